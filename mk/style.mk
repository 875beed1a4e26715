# `make format-check`: every C++ source laid out as .clang-format says
# (also the ctest style.format). `make tidy`: clang-tidy with .clang-tidy
# over agent/, from BUILD_DIR's compile commands; slow (minutes), so not
# part of `make test`. Neither changes a file (scripts/style.sh).

# Included anywhere in the Makefile, this must not become its default goal.
_style_goal := $(.DEFAULT_GOAL)

.PHONY: format-check tidy

format-check:
	@scripts/style.sh format

tidy: configure
	@scripts/deps.sh tidy
	@scripts/style.sh tidy $(BUILD_DIR)

.DEFAULT_GOAL := $(_style_goal)
