"""The browser acceptance test of the course (``python -m course.browser``, ``make browser-test``).
Needs Playwright (the ``browser`` extra) and a system Chromium; nothing here is imported by ``course``."""
