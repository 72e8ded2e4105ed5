# Packaging.cmake — the .deb and .rpm of mailward (CPack DEB and RPM generators), the files only
# packages need (default configuration, systemd units, maintainer scripts, imapsieve learning
# scripts, manual pages), and the package integration test. Included last by the top-level
# CMakeLists.txt, so every target is already defined.
#
#   cmake --build BUILD --target package-deb package-rpm    (or: cd BUILD && cpack -G DEB / -G RPM)
#
# Layout (prefix /usr): programs in /usr/bin and /usr/sbin, the Sieve plugin in Dovecot's module
# directory, units in /usr/lib/systemd/system (Debian 12 is merged-/usr: that is /lib/systemd/system),
# data in /usr/share/mailward, learning scripts in /usr/lib/mailward/imapsieve, configuration in
# /etc/mailward. Directories, user and modes that exist only at run time are made by the
# maintainer scripts (packaging/maint/common.sh); packaging/README.md documents all of it.

set(MAILWARD_PKG_SRC ${PROJECT_SOURCE_DIR}/packaging)
set(MAILWARD_PKG_GEN ${PROJECT_BINARY_DIR}/packaging)
set(MAILWARD_UNIT_DIR lib/systemd/system CACHE STRING
    "systemd unit directory, relative to the install prefix (/usr/lib/systemd/system)")

# --- install rules for what the parts' own CMakeLists do not install --------------------------------

# The standalone auth-policy server (mailward-policyd also hosts the endpoint; kept for setups that
# run it apart). No unit: mailward-policyd.service serves [auth-policy].
if(TARGET mailward-auth-policy)
  install(TARGETS mailward-auth-policy RUNTIME DESTINATION sbin)
endif()

# Default configuration: 0640 (root:mailward once the maintainer script has changed the group),
# never world-readable, not even between unpacking and configuring.
install(FILES ${MAILWARD_PKG_SRC}/mailward.conf DESTINATION /etc/mailward
        PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ)

install(FILES ${MAILWARD_PKG_SRC}/systemd/mailward-milter.service
              ${MAILWARD_PKG_SRC}/systemd/mailward-policyd.service
              ${MAILWARD_PKG_SRC}/systemd/mailward-notifyd.service
        DESTINATION ${MAILWARD_UNIT_DIR})

# imapsieve learning (packaging/imapsieve, README there): Sieve scripts and pipe programs where its
# Dovecot settings expect them; the settings themselves as an example for conf.d.
install(FILES ${MAILWARD_PKG_SRC}/imapsieve/report-spam.sieve
              ${MAILWARD_PKG_SRC}/imapsieve/report-ham.sieve
        DESTINATION lib/mailward/imapsieve)
install(PROGRAMS ${MAILWARD_PKG_SRC}/imapsieve/mailward-learn-spam
                 ${MAILWARD_PKG_SRC}/imapsieve/mailward-learn-ham
        DESTINATION lib/mailward/imapsieve)
install(FILES ${MAILWARD_PKG_SRC}/imapsieve/90-mailward-imapsieve.conf
        DESTINATION share/mailward/dovecot)

install(FILES ${MAILWARD_PKG_SRC}/man/mailward.1 DESTINATION share/man/man1)
install(FILES ${MAILWARD_PKG_SRC}/man/mailward-milter.8
              ${MAILWARD_PKG_SRC}/man/mailward-policyd.8
              ${MAILWARD_PKG_SRC}/man/mailward-notifyd.8
        DESTINATION share/man/man8)
install(FILES ${PROJECT_SOURCE_DIR}/README.md DESTINATION share/doc/mailward)
install(FILES ${MAILWARD_PKG_SRC}/README.md DESTINATION share/doc/mailward
        RENAME README.packaging.md)

# --- maintainer scripts: packaging/maint/common.sh pasted into each --------------------------------

file(READ ${MAILWARD_PKG_SRC}/maint/common.sh MAILWARD_MAINT_COMMON)
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${MAILWARD_PKG_SRC}/maint/common.sh)
foreach(script postinst prerm postrm)
  configure_file(${MAILWARD_PKG_SRC}/deb/${script}.in ${MAILWARD_PKG_GEN}/deb/${script} @ONLY
                 FILE_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE
                                  WORLD_READ WORLD_EXECUTE)
endforeach()
configure_file(${MAILWARD_PKG_SRC}/deb/conffiles ${MAILWARD_PKG_GEN}/deb/conffiles COPYONLY)
foreach(script pre post preun postun)
  configure_file(${MAILWARD_PKG_SRC}/rpm/${script}.in ${MAILWARD_PKG_GEN}/rpm/${script} @ONLY)
endforeach()

# --- CPack -------------------------------------------------------------------------------------------

set(CPACK_PACKAGE_NAME mailward)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_VENDOR "mailward")
set(CPACK_PACKAGE_CONTACT "mailward maintainers <postmaster@mailward.invalid>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "secure mail service for a stock Postfix + Dovecot: SPF, DKIM, DMARC, spam, policy, notifications")
set(CPACK_PACKAGE_DESCRIPTION
    "mailward plugs into the hooks Postfix and Dovecot already have: mailward-milter (SPF, DKIM\n\
signing and verification, DMARC and spam scoring in one pass), mailward-policyd (relay, sender\n\
ownership and rate limits, routing table, Dovecot authentication policy), a Pigeonhole Sieve\n\
extension with mailward-notifyd (webhook notifications), and the mailward command (setup, DNS\n\
records, keys, configuration check).")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_GENERATOR "DEB;RPM")
set(CPACK_PACKAGE_DIRECTORY ${PROJECT_BINARY_DIR}/packages)

# Debian: Depends from dpkg-shlibdeps plus what the defaults need at run time.
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION mail)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "publicsuffix, passwd")
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "postfix, dovecot-core, dovecot-sieve, dovecot-lmtpd")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${MAILWARD_PKG_GEN}/deb/postinst ${MAILWARD_PKG_GEN}/deb/prerm ${MAILWARD_PKG_GEN}/deb/postrm
    ${MAILWARD_PKG_GEN}/deb/conffiles)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION TRUE)

# RPM: requirements from rpmbuild's automatic dependency scan, plus these.
set(CPACK_RPM_FILE_NAME RPM-DEFAULT)
set(CPACK_RPM_PACKAGE_LICENSE "unspecified")
set(CPACK_RPM_PACKAGE_GROUP "System Environment/Daemons")
set(CPACK_RPM_PACKAGE_RELEASE 1)
set(CPACK_RPM_PACKAGE_REQUIRES "publicsuffix-list")
set(CPACK_RPM_PACKAGE_REQUIRES_PRE "shadow-utils")
# Not relocatable (paths under /etc and /usr are fixed); no /usr/lib/.build-id links (they would
# collide with debuginfo packages of other software); weak dependencies as raw spec lines (CPack has
# no variable for Recommends).
set(CPACK_PACKAGE_RELOCATABLE OFF)
set(CPACK_RPM_SPEC_MORE_DEFINE
    "%define _build_id_links none\nRecommends: postfix\nRecommends: dovecot\nRecommends: dovecot-pigeonhole")
set(CPACK_RPM_PRE_INSTALL_SCRIPT_FILE ${MAILWARD_PKG_GEN}/rpm/pre)
set(CPACK_RPM_POST_INSTALL_SCRIPT_FILE ${MAILWARD_PKG_GEN}/rpm/post)
set(CPACK_RPM_PRE_UNINSTALL_SCRIPT_FILE ${MAILWARD_PKG_GEN}/rpm/preun)
set(CPACK_RPM_POST_UNINSTALL_SCRIPT_FILE ${MAILWARD_PKG_GEN}/rpm/postun)
# rpm sets owner, group and mode itself (the group exists: %pre made it).
set(CPACK_RPM_USER_FILELIST
    "%config(noreplace) %attr(0640,root,mailward) /etc/mailward/mailward.conf"
    "%dir %attr(0750,root,mailward) /etc/mailward")
# Directories other packages own.
set(CPACK_RPM_EXCLUDE_FROM_AUTO_FILELIST_ADDITION
    /usr/sbin /usr/lib/systemd /usr/lib/systemd/system /usr/lib/dovecot /usr/lib/dovecot/modules
    /usr/lib/dovecot/modules/sieve /usr/share/man /usr/share/man/man1 /usr/share/man/man8)
set(CPACK_RPM_SPEC_INSTALL_POST "/bin/true")  # no brp-strip/compress surprises; CPack strips

include(CPack)

# Convenience targets: build what is installed, then one package each.
set(MAILWARD_PKG_TARGETS mailward mailward-milter)
foreach(t mailward-policyd mailward-notifyd mailward-auth-policy sieve_mailward_plugin)
  if(TARGET ${t})
    list(APPEND MAILWARD_PKG_TARGETS ${t})
  endif()
endforeach()
foreach(gen DEB RPM)
  string(TOLOWER ${gen} lower)
  add_custom_target(package-${lower}
    COMMAND ${CMAKE_CPACK_COMMAND} -G ${gen} --config ${PROJECT_BINARY_DIR}/CPackConfig.cmake
    WORKING_DIRECTORY ${PROJECT_BINARY_DIR}
    COMMENT "Building the mailward ${gen} package in ${PROJECT_BINARY_DIR}/packages"
    USES_TERMINAL)
  add_dependencies(package-${lower} ${MAILWARD_PKG_TARGETS})
endforeach()

# --- test ----------------------------------------------------------------------------------------------

if(NOT MAILWARD_FUZZ AND NOT MAILWARD_SANITIZE)
  add_test(NAME integration_package
           COMMAND bash ${PROJECT_SOURCE_DIR}/tests/integration/package/package_test.sh
                   ${PROJECT_BINARY_DIR})
  set_tests_properties(integration_package PROPERTIES
    LABELS integration RESOURCE_LOCK mailward_integration TIMEOUT 600)
endif()
