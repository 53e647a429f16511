#!/usr/bin/env bash
# make install as an operator meets it: this build installed into a
# temporary prefix (and under DESTDIR), the files that land there, a program
# built with pkg-config against the installed headers and libraries, the
# systemd unit, and the main job from the prefix: the installed apir-server,
# started as the unit starts it from its environment file, answers
# llama-completion through the installed frontend with the native tokens.
# usage: install.sh CMAKE BUILD_DIR SOURCE_DIR MAKER   (LLAMA_BIN_DIR and CC set)
source "$(dirname "$0")/lib.sh"
CMAKE=$1
BUILD=$2
SOURCE=$3
MAKER=$4
PREFIX=$TEST_TMP/prefix
UNIT=$PREFIX/lib/systemd/system/apir-server.service
ENV_FILE=$PREFIX/etc/ggml-virtgpu/apir-server.env
DEVICE=VirtGPU0-CPU

# the files of an installation, relative to its prefix
expected_files() {
    printf '%s\n' bin/apir-server lib/libggml-virtgpu.so lib/libggml-virtgpu-backend.so lib/libapir.so \
        include/ggml-virtgpu.h lib/pkgconfig/ggml-virtgpu.pc lib/pkgconfig/apir.pc \
        lib/systemd/system/apir-server.service lib/sysusers.d/ggml-virtgpu.conf etc/ggml-virtgpu/apir-server.env \
        lib/ggml-virtgpu/libvirglrenderer.so.1
    (cd "$SOURCE" && ls include/apir/*.h)
}

# has_expected_files PREFIX: exactly those files are there (the difference printed)
has_expected_files() {
    diff <(expected_files | sort) <( (cd "$1" && find . -type f -o -type l) | sed 's|^\./||' | sort)
}

# resolves_libraries FILE: the dynamic linker finds every library FILE needs
resolves_libraries() {
    ! ldd "$1" | grep 'not found'
}

# names_no_path DIR TEXT: no installed file holds TEXT
names_no_path() {
    ! grep -rlF "$2" "$1"
}

"$CMAKE" --install "$BUILD" --prefix "$PREFIX" >"$TEST_TMP/install.log" 2>&1
check "cmake --install into a temporary prefix" test $? -eq 0
check "the prefix has the libraries, apir-server, headers, pkg-config files, unit and env file" \
    has_expected_files "$PREFIX"
for file in "$PREFIX"/bin/apir-server "$PREFIX"/lib/*.so "$PREFIX"/lib/ggml-virtgpu/*.so.1; do
    check "$(basename "$file") finds its libraries (RPATH)" resolves_libraries "$file"
done
"$PREFIX/bin/apir-server" --help >"$TEST_TMP/help" 2>&1
check "the installed apir-server runs" test $? -eq 0
check_contains "its --help lists --socket-group" "$TEST_TMP/help" "--socket-group GROUP"

# ---- a program built against the installation with pkg-config ------------
cat >"$TEST_TMP/program.c" <<'EOF'
#include <stdio.h>

#include "apir/apir.h"
#include "ggml-virtgpu.h"

int main(void)
{
    struct wire_capset capset;
    const ggml_backend_reg_t reg = ggml_backend_virtgpu_reg();
    printf("APIR capset: %s\n", apir_capset_get(APIR_CAPSET_ID_APIR, &capset) ? "served" : "not served");
    printf("%s devices: %zu\n", ggml_backend_reg_name(reg), ggml_backend_reg_dev_count(reg));
    return 0;
}
EOF
export PKG_CONFIG_PATH=$PREFIX/lib/pkgconfig
pkg-config --cflags --libs ggml-virtgpu apir >"$TEST_TMP/pkg-config.out" 2>&1
check "pkg-config knows ggml-virtgpu and apir" test $? -eq 0
check_contains "pkg-config points at the installed headers" "$TEST_TMP/pkg-config.out" "-I$PREFIX/include"
# shellcheck disable=SC2046  # pkg-config's words are the compiler's arguments
"${CC:-cc}" -std=c11 -Wall -Werror -o "$TEST_TMP/program" "$TEST_TMP/program.c" \
    $(pkg-config --cflags --libs ggml-virtgpu apir) >"$TEST_TMP/compile.log" 2>&1
check "a program compiles and links against the installation" test $? -eq 0
PROGRAM_LIBRARY_PATH=$PREFIX/lib:$(pkg-config --variable=ggml_libdir ggml-virtgpu)

# ---- the systemd unit and its environment file -----------------------------
if command -v systemd-analyze >/dev/null; then
    systemd-analyze verify "$UNIT" >"$TEST_TMP/verify.log" 2>&1
    check "systemd-analyze verify accepts the unit, without a warning" \
        test $? -eq 0 -a ! -s "$TEST_TMP/verify.log"
    sed 's/^/    /' "$TEST_TMP/verify.log"
fi
for key in "EnvironmentFile=$ENV_FILE" "ExecStart=$PREFIX/bin/apir-server " DynamicUser=yes \
           SupplementaryGroups=virtgpu Environment=APIR_SERVER_SOCKET_GROUP=virtgpu \
           RuntimeDirectory=ggml-virtgpu Restart=on-failure WantedBy=multi-user.target; do
    check_contains "the unit has $key" "$UNIT" "$key"
done
check_contains "sysusers.d creates the socket's group" "$PREFIX/lib/sysusers.d/ggml-virtgpu.conf" "g virtgpu"
check_contains "the env file names the installed host library" "$ENV_FILE" \
    "VIRGL_APIR_BACKEND_LIBRARY=$PREFIX/lib/libggml-virtgpu-backend.so"

# The unit's environment: its defaults, then the environment file's
# assignments; the socket here, in this user's group (the service's group,
# virtgpu, need not exist on this machine)
while IFS= read -r assignment; do
    export "${assignment?}"
done < <(sed -n 's/^Environment=//p' "$UNIT"; grep -E '^[A-Z_]+=' "$ENV_FILE")
APIR_SERVER_SOCKET=$TEST_TMP/unit.sock
APIR_SERVER_SOCKET_GROUP=$(id -gn)
# its command line, ${VARIABLE}s expanded as systemd does
eval "exec_start=($(sed -n 's/^ExecStart=//p' "$UNIT"))"
APIR_SERVER=${exec_start[0]}
start_server unit "${exec_start[@]:1}"
check "the unit's command line starts the installed apir-server" test "$APIR_SERVER" = "$PREFIX/bin/apir-server"
check "it runs on the installed libapir" grep -qF "$PREFIX/lib/libapir.so" "/proc/$SERVER_PID/maps"
check "with the socket's group and mode (0660 by default)" \
    test "$(stat -c '%a %G' "$TEST_TMP/unit.sock")" = "660 $APIR_SERVER_SOCKET_GROUP"

# ---- the main job from the prefix ------------------------------------------
"$MAKER" --preset tiny --seed 5 -o "$TEST_TMP/tiny.gguf" >/dev/null
FRONTEND=$PREFIX/lib/libggml-virtgpu.so
ON_UNIT=(VTEST_SOCKET_NAME="$TEST_TMP/unit.sock" GGML_REMOTING_USE_APIR_CAPSET=1)
check "native CPU run" complete native tiny -ngl 0
check "VirtGPU run: installed frontend, installed apir-server" with_virtgpu "${ON_UNIT[@]}" -- \
    complete virtgpu tiny -ngl 99 --device "$DEVICE" -v
check_contains "the VirtGPU device is used" "$TEST_TMP/virtgpu.log" "using device $DEVICE"
check "VirtGPU gives the native tokens" cmp "$TEST_TMP/native.out" "$TEST_TMP/virtgpu.out"
with_virtgpu "${ON_UNIT[@]}" LD_LIBRARY_PATH="$PROGRAM_LIBRARY_PATH" -- "$TEST_TMP/program" \
    >"$TEST_TMP/program.out" 2>&1
check "the program built with pkg-config runs" test $? -eq 0
check_contains "and its libapir serves the APIR capset" "$TEST_TMP/program.out" "APIR capset: served"
check_contains "and its frontend finds the device" "$TEST_TMP/program.out" "VirtGPU devices: 1"
check "the server stops" stop_server "$SERVER_PID"

# ---- the socket options' errors ---------------------------------------------
"$APIR_SERVER" --socket "$TEST_TMP/bad.sock" --socket-group no-such-group-here >/dev/null 2>"$TEST_TMP/badgroup"
check "an unknown --socket-group exits 1" test $? -eq 1
check_contains "and says what to do" "$TEST_TMP/badgroup" "there is no group 'no-such-group-here'; create it"
"$APIR_SERVER" --socket "$TEST_TMP/bad.sock" --socket-mode 0999 >/dev/null 2>"$TEST_TMP/badmode"
check "a --socket-mode that is not octal exits 1" test $? -eq 1
check_contains "and says why" "$TEST_TMP/badmode" "--socket-mode: '0999' is not a file mode"
check "and leaves no socket file behind" test -z "$(compgen -G "$TEST_TMP/bad.sock*")"

# ---- a reinstall keeps the operator's environment file ----------------------
echo "APIR_MAX_CONTEXTS=7" >>"$ENV_FILE"
"$CMAKE" --install "$BUILD" --prefix "$PREFIX" >"$TEST_TMP/reinstall.log" 2>&1
check "a reinstall succeeds" test $? -eq 0
check_contains "and keeps the edited environment file" "$ENV_FILE" "APIR_MAX_CONTEXTS=7"

# ---- DESTDIR: staged for /usr/local ----------------------------------------
STAGE=$TEST_TMP/stage
DESTDIR=$STAGE "$CMAKE" --install "$BUILD" --prefix /usr/local >"$TEST_TMP/destdir.log" 2>&1
check "cmake --install with DESTDIR" test $? -eq 0
check "DESTDIR/usr/local has the installation" has_expected_files "$STAGE/usr/local"
check "no installed file names the DESTDIR" names_no_path "$STAGE" "$STAGE"
check_contains "the staged unit starts /usr/local/bin/apir-server" \
    "$STAGE/usr/local/lib/systemd/system/apir-server.service" "ExecStart=/usr/local/bin/apir-server "
check_contains "the staged pkg-config file names /usr/local" "$STAGE/usr/local/lib/pkgconfig/apir.pc" \
    "prefix=/usr/local"
finish
