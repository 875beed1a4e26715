# `make fresh-check`: `make run` and `make test` on a minimal Debian root made
# with debootstrap (test/lab/fresh-check.sh). Root only; the pristine root is
# cached under LAB_CACHE (default /var/cache/tether-lab) and reused.

.PHONY: fresh-check

fresh-check:
	@scripts/deps.sh fresh
	@test/lab/fresh-check.sh
