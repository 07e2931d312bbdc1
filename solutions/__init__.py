"""The exercise answers and nothing else: one module per chapter, each exercise a function of its
name (plus the private helpers it needs).

A leaf: the library, the notebooks and ``course`` never import it (``course.reference`` loads an
answer on demand, for instructors and the tests). An answer may reuse an earlier chapter's answer
(``from solutions.ch04 import transformer_block``). The student edition ships without this package.
"""
