# Install rules and the Debian package (CPack). Included from the top
# CMakeLists.txt once the tetherd and tetherctl targets exist.
include(GNUInstallDirs)

install(TARGETS tetherd tetherctl RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

# The service files name /usr/bin/tetherd, the package's path; an install
# under another prefix gets copies (in the build tree) that name its own.
function(tether_service_file var src)
  file(READ ${PROJECT_SOURCE_DIR}/scripts/${src} text)
  string(REPLACE "/usr/bin/tetherd" "${CMAKE_INSTALL_FULL_BINDIR}/tetherd" text "${text}")
  file(WRITE ${CMAKE_BINARY_DIR}/packaging/${src} "${text}")
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/scripts/${src})
  set(${var} ${CMAKE_BINARY_DIR}/packaging/${src} PARENT_SCOPE)
endfunction()
tether_service_file(unit tetherd.service)
tether_service_file(sysv_script init.d/tetherd)
tether_service_file(openrc_script openrc/tetherd)

# Debian 12's systemd.pc says /lib/systemd/system for packages in /usr;
# under any other prefix, <prefix>/lib/systemd/system is in systemd's
# search path too (e.g. /usr/local/lib/systemd/system).
if(CMAKE_INSTALL_PREFIX STREQUAL "/usr")
  set(TETHER_UNIT_DIR /lib/systemd/system)
else()
  set(TETHER_UNIT_DIR lib/systemd/system)
endif()
install(FILES ${unit} DESTINATION ${TETHER_UNIT_DIR})
install(PROGRAMS ${sysv_script} DESTINATION /etc/init.d)
# Not in /etc/init.d: that name belongs to the sysvinit script. OpenRC
# users copy it there (see the script's header).
install(PROGRAMS ${openrc_script} DESTINATION ${CMAKE_INSTALL_DATADIR}/tether/openrc)
# The log of the sysvinit and OpenRC scripts; a conffile like all of /etc.
install(FILES scripts/logrotate/tetherd DESTINATION /etc/logrotate.d)
install(FILES scripts/tetherctl.bash-completion
        DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions RENAME tetherctl)
install(FILES README.md CHANGELOG.md conf/tether.ini DESTINATION ${CMAKE_INSTALL_DOCDIR})
# Debian policy: the licence as /usr/share/doc/<package>/copyright.
install(FILES LICENSE DESTINATION ${CMAKE_INSTALL_DOCDIR} RENAME copyright)

# The configuration, two ways. `cmake --install` (component "config")
# never overwrites an operator's file. The package (component "conffile",
# left out of a plain install) ships it as a dpkg conffile, and dpkg
# protects local edits itself.
install(CODE "set(tether_example \"${PROJECT_SOURCE_DIR}/conf/tether.ini\")" COMPONENT config)
install(CODE [[
  if(EXISTS "$ENV{DESTDIR}/etc/tether/tether.ini")
    message(STATUS "Keeping: $ENV{DESTDIR}/etc/tether/tether.ini")
  else()
    file(INSTALL "${tether_example}" DESTINATION /etc/tether)
  endif()
]] COMPONENT config)
install(FILES conf/tether.ini DESTINATION /etc/tether COMPONENT conffile EXCLUDE_FROM_ALL)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME tether)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "supervisor of Cloudflare tunnels for small boards")
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION "tetherd runs cloudflared tunnels (quick and named), reads their public URL,
restarts them when they die or lose their connection, and answers a line
protocol on a Unix socket (tetherctl, socat, nc). It provisions named tunnels
and their DNS names through the Cloudflare API. Made for Raspberry Pi class
boards on flaky links.
.
cloudflared itself is not in Debian: install it from Cloudflare's
repository (pkg.cloudflare.com) or as a binary in PATH.")
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "tether maintainers <maintainers@users.noreply.example>")
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
# A cross build (cmake/toolchain-debian-cross.cmake) packages for its
# target, not for this machine's dpkg architecture.
if(CMAKE_CROSSCOMPILING AND TETHER_CROSS_ARCH)
  set(CPACK_DEBIAN_PACKAGE_ARCHITECTURE ${TETHER_CROSS_ARCH})
endif()
# Depends: computed by dpkg-shlibdeps from the binaries (libuv1, libcurl4, ...).
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# Not in Debian (Cloudflare's own repository), so only suggested; tetherd
# answers `ERR nocloudflared` with install instructions without it.
set(CPACK_DEBIAN_PACKAGE_SUGGESTS cloudflared)
set(CPACK_STRIP_FILES ON)
# What a plain install gets (the default component, "Unspecified") minus
# the never-overwrite step, plus the conffile.
set(CPACK_INSTALL_CMAKE_PROJECTS
    "${CMAKE_BINARY_DIR};${PROJECT_NAME};Unspecified;/"
    "${CMAKE_BINARY_DIR};${PROJECT_NAME};conffile;/")
# Files in /etc are the operator's to edit: dpkg keeps their changes.
file(WRITE ${CMAKE_BINARY_DIR}/packaging/conffiles "/etc/tether/tether.ini\n/etc/init.d/tetherd\n/etc/logrotate.d/tetherd\n")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${CMAKE_BINARY_DIR}/packaging/conffiles
    ${PROJECT_SOURCE_DIR}/scripts/debian/postinst
    ${PROJECT_SOURCE_DIR}/scripts/debian/prerm
    ${PROJECT_SOURCE_DIR}/scripts/debian/postrm)
# Maintainer scripts 0755 and conffiles 0644 whatever the checkout's modes.
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
