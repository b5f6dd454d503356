def demo(): pass
def coarse_unary(): pass
