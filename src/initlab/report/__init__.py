"""Pictures and reports. matplotlib is imported inside the functions that draw."""
