"""course_utils: the tested support package of the attention and Vision Transformer course.

Modules, in the order the course teaches them: config, data, attention, patches,
keras_notes, positional, vit, swin, hybrid, train, viz, widgets, checks, claims. Importing
the package has no side effects: nothing is downloaded, no seed is set, no plot style changes.
"""

__version__ = "0.1.0"
