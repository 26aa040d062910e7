"""DuReader_robust reading comprehension (LIC2020): sliding windows over the context, start/end
span pointers, best span across windows, the official F1/EM metric."""
