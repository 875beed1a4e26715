# Packaging targets, included at the end of the Makefile:
#   make install [PREFIX=/usr/local] [DESTDIR=] [STRIP=0]   build, then install
#                         (binaries stripped unless STRIP=0)
#   make deb              Release build in build-deb/, then build-deb/tether_*.deb
#   make deb DEB_ARCH=arm64|armhf   the same, cross-built, in build-deb-ARCH/
#   make check-packaging  static checks of the unit, init scripts, completion
#   make deb-check        make deb, then install/remove/purge it on this
#                         machine (needs root; leaves no package behind)

PREFIX  ?= /usr/local
DESTDIR ?=
DEB_ARCH ?=
DEB_BUILD_DIR ?= build-deb$(if $(DEB_ARCH),-$(DEB_ARCH))
DEB_CROSS = $(if $(DEB_ARCH),-DCMAKE_TOOLCHAIN_FILE=$(CURDIR)/cmake/toolchain-debian-cross.cmake \
    -DTETHER_CROSS_ARCH=$(DEB_ARCH))
BUILDFLAGS = $(if $(DEB_ARCH),DEB_HOST_ARCH=$(DEB_ARCH)) dpkg-buildflags --get

.PHONY: install deb check-packaging deb-check

# The prefix is also given to the configure step: the installed unit and
# init scripts name $(PREFIX)/bin/tetherd.
install:
	@$(MAKE) --no-print-directory build CMAKE_ARGS="$(CMAKE_ARGS) -DCMAKE_INSTALL_PREFIX=$(PREFIX)"
	DESTDIR="$(DESTDIR)" cmake --install $(BUILD_DIR) --prefix $(PREFIX) $(if $(filter 0,$(STRIP)),,--strip)
	@echo "Next (as root): create the system user 'tether' and give it /etc/tether" \
	    "(root:tether 0770), as scripts/debian/postinst does."

# Debian's hardening flags; no -Werror: a newer compiler's new warning must
# not break a package build (`make test` keeps it).
deb:
	@scripts/deps.sh pkg $(if $(DEB_ARCH),cross-$(DEB_ARCH))
	@CFLAGS="$$($(BUILDFLAGS) CFLAGS) $$($(BUILDFLAGS) CPPFLAGS)" \
	 CXXFLAGS="$$($(BUILDFLAGS) CXXFLAGS) $$($(BUILDFLAGS) CPPFLAGS)" \
	 LDFLAGS="$$($(BUILDFLAGS) LDFLAGS)" \
	 cmake -S . -B $(DEB_BUILD_DIR) -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=/usr \
	    -DTETHER_TESTS=OFF -DTETHER_WERROR=OFF $(DEB_CROSS) >/dev/null
	@cmake --build $(DEB_BUILD_DIR) -j$(JOBS)
	@rm -f $(DEB_BUILD_DIR)/*.deb
	@cd $(DEB_BUILD_DIR) && cpack -G DEB >/dev/null
	@ls $(DEB_BUILD_DIR)/*.deb

check-packaging: build
	@scripts/deps.sh pkg
	@test/packaging/check.sh $(BUILD_DIR)/tetherd

# Really installs and removes the package here: root only; native only.
deb-check: deb
	test/packaging/deb_roundtrip.sh $(DEB_BUILD_DIR)/tether_*.deb
