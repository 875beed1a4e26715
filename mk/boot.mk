# `make boot-check`: the .deb installed into fresh Debian roots and run by a
# real init as PID 1 (systemd, sysvinit, OpenRC) under systemd-nspawn
# (test/lab/boot-check.sh). Root only; the pristine roots are cached under
# LAB_CACHE (default /var/cache/tether-lab) and reused.

.PHONY: boot-check

boot-check: deb
	@scripts/deps.sh boot pkg
	@test/lab/boot-check.sh $(DEB_BUILD_DIR)/tether_*.deb
