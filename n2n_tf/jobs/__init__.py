"""User-facing jobs and the preamble they share (teacher loaded, fitted to the data,
preprocessing chosen, teacher checked)."""

from n2n_tf.jobs.preamble import Prepared, TeacherCheck, prepare, teacher_floor

__all__ = ["Prepared", "TeacherCheck", "prepare", "teacher_floor"]
