# Run by cmake --install (packaging/CMakeLists.txt sets the VIRTGPU_*
# variables): writes the files that name installed paths, for the prefix of
# this installation, under DESTDIR when it is set.

set(prefix "${CMAKE_INSTALL_PREFIX}")
set(BINDIR "${prefix}/${VIRTGPU_BINDIR}")
set(LIBDIR "${prefix}/${VIRTGPU_LIBDIR}")
set(INCLUDEDIR "${prefix}/${VIRTGPU_INCLUDEDIR}")
# /usr's configuration lives in /etc, any other prefix's in PREFIX/etc
if(prefix STREQUAL "/usr")
    set(SYSCONFDIR "/etc")
else()
    set(SYSCONFDIR "${prefix}/etc")
endif()
set(ENV_FILE "${SYSCONFDIR}/ggml-virtgpu/apir-server.env")

# install_configured TEMPLATE DESTINATION: TEMPLATE.in with its @VARIABLES@
# filled, installed as DESTINATION/TEMPLATE
function(install_configured template destination)
    configure_file("${VIRTGPU_TEMPLATES}/${template}.in" "${VIRTGPU_CONFIGURED}/${template}" @ONLY)
    file(INSTALL "${VIRTGPU_CONFIGURED}/${template}" DESTINATION "${destination}")
endfunction()

install_configured(ggml-virtgpu.pc "${LIBDIR}/pkgconfig")
install_configured(apir.pc "${LIBDIR}/pkgconfig")
install_configured(apir-server.service "${prefix}/lib/systemd/system")
# the operator's edits survive a reinstall
if(EXISTS "$ENV{DESTDIR}${ENV_FILE}")
    message(STATUS "Kept: $ENV{DESTDIR}${ENV_FILE} (an installed configuration is not overwritten)")
else()
    install_configured(apir-server.env "${SYSCONFDIR}/ggml-virtgpu")
endif()
