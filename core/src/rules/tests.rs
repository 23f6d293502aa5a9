// Table-driven rule tests: written next.
