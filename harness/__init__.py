"""The project's own Python: driving the test guest (guest.py) and the
pictures it takes (pictures.py), shared by the end-to-end tests, the demo,
the soak and the benchmark."""
