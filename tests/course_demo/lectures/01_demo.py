# %% [markdown]
# # A tiny lecture for the course tools' tests
# Three exercises, two hidden tests, one output-checked cell.

# %%
import math

# %%
def area(r):
    """Area of a circle of radius r."""
    ### BEGIN SOLUTION hint: pi times r squared
    return math.pi * r ** 2
    ### END SOLUTION


# %% grade_id="area"
assert abs(area(1.0) - math.pi) < 1e-12, "area(1) should be pi"
### BEGIN HIDDEN TESTS
assert abs(area(2.0) - 4 * math.pi) < 1e-12, "area(2) should be 4 pi"
### END HIDDEN TESTS

# %% tags=["nbval-check-output"]
print(round(math.pi, 3))
# Expected output:
# 3.142

# %%
def double(x):
    ### BEGIN SOLUTION
    return 2 * x
    ### END SOLUTION


# %% grade_id="double"
assert double(3) == 6, "double(3) should be 6"

# %%
def scale(values, factor):
    """Every value times factor, as a NumPy array."""
    import numpy as np

    ### BEGIN SOLUTION
    return np.asarray(values) * factor
    ### END SOLUTION


# %% grade_id="scale"
import numpy as np

np.testing.assert_allclose(scale([1.0, 2.0], 3), [3.0, 6.0], err_msg="scale([1.0, 2.0], 3)")
### BEGIN HIDDEN TESTS
np.testing.assert_allclose(scale([1.0, -1.0], 0.5), [0.5, -0.5], err_msg="scale([1.0, -1.0], 0.5)")
### END HIDDEN TESTS
