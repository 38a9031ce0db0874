# tests/fuzz/fuzz.mk — libFuzzer targets for the engine parsers (included by the Makefile).
.PHONY: fuzz fuzz-ci
fuzz fuzz-ci:
	@echo "fuzz targets: not yet built" >&2
