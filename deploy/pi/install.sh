#!/bin/bash
# Turn a fresh Raspberry Pi OS Lite (Bookworm, 64-bit; Pi 3B+, 4 or 5) into a signage kiosk
# that nobody needs to log in to: full screen at boot, restarted when it freezes, read-only
# root so power cuts cannot corrupt the system, and its data on a writable folder.
#
#   sudo deploy/pi/install.sh --server https://signage.example.org --code K7Q2-9XMP-4TRA
#
# Options:
#   --server URL        the management server (required until the kiosk is enrolled)
#   --code CODE         enrollment code from `signage-server kiosk add` (idem)
#   --data-device DEV   a partition for the journal and media cache (e.g. LABEL=signage-data,
#                       already formatted ext4); default: a folder on the SD card's root
#   --dry-run           print every action, change nothing
#   --root DIR          apply file changes under DIR instead of / (tests); commands that
#                       need a real Pi (apt, useradd, pip, systemctl, raspi-config) are
#                       printed and skipped. Files are written there even with --dry-run.
#   --repo DIR          the checkout to install from (default: the one holding this script)
#
# Running it again changes nothing that is already right, and says so. Everything it does
# is explained in deploy/pi/README and deploy/README.md. Reboot once at the end.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
FILES=$HERE/files

KIOSK_USER=kiosk
KIOSK_GROUPS=(video render input gpio audio)
APP_DIR=/opt/signage-kiosk
VENV=$APP_DIR/venv
DATA_DIR=/var/lib/signage-kiosk
LIB_DIR=/usr/local/lib/signage-kiosk
UNIT_DIR=/etc/systemd/system
# pygame is built against Debian's SDL 2 (the PyPI wheels' SDL has no KMS/DRM driver).
PACKAGES=(
  python3-venv python3-dev build-essential pkg-config
  libsdl2-dev libsdl2-image-dev libsdl2-mixer-dev libsdl2-ttf-dev
  libfreetype-dev libportmidi-dev libjpeg-dev libpng-dev
  libgl1-mesa-dri libegl1 libgles2 libgbm1
  fonts-dejavu-core python3-lgpio overlayroot
)
CMDLINE_TOKENS=(consoleblank=0 vt.global_cursor_default=0 logo.nologo)
# Nothing may write to the SD card or compete with the kiosk for tty1.
MASKED_UNITS=(getty@tty1.service apt-daily.timer apt-daily-upgrade.timer man-db.timer
              dphys-swapfile.service)

server=
code=
data_device=
dry_run=0
root=
repo=$(cd "$HERE/../.." && pwd)

changed=0
unchanged=0
skipped=0
units_changed=0

usage() {
  sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"
}

die() {
  echo "install.sh: $*" >&2
  exit 1
}

parse_args() {
  while (( $# )); do
    case $1 in
      --server) server=${2:?--server needs a URL}; shift 2 ;;
      --code) code=${2:?--code needs the enrollment code}; shift 2 ;;
      --data-device) data_device=${2:?--data-device needs a device}; shift 2 ;;
      --root) root=${2:?--root needs a folder}; shift 2 ;;
      --repo) repo=${2:?--repo needs a folder}; shift 2 ;;
      --dry-run) dry_run=1; shift ;;
      -h|--help) usage; exit 0 ;;
      *) echo "install.sh: unknown argument: $1" >&2; usage >&2; exit 2 ;;
    esac
  done
  if [[ -n $root ]]; then
    [[ -d $root ]] || die "--root $root is not a folder"
    root=$(cd "$root" && pwd)
    [[ $root == / ]] && root=
  fi
  if [[ -n $server && ! $server =~ ^https?://[^[:space:]/]+ ]]; then
    echo "install.sh: --server must be an http(s):// URL, not '$server'" >&2
    exit 2
  fi
  [[ -f $repo/pyproject.toml ]] || die "$repo is not a checkout of the project (no pyproject.toml)"
}

# -- reporting and guards ------------------------------------------------------------------

# Files are written unless this is a dry run on the real system.
applying_files() { [[ -n $root ]] || (( ! dry_run )); }

overlay_active() { [[ -z $root ]] && [[ $(findmnt -n -o FSTYPE / 2>/dev/null) == overlay ]]; }

before_change() {  # before_change WHAT: refuse changes that a read-only root would lose
  if overlay_active && (( ! dry_run )); then
    die "$1 must change, but / is the read-only overlay and the change would vanish at the
next boot. Run 'sudo signage-maintenance off && sudo reboot', then this script again."
  fi
}

writable_boot() {  # the boot partition is mounted read-only once installed; edits need rw
  [[ -z $root ]] || return 0
  if findmnt -n -o OPTIONS "$boot" 2>/dev/null | tr ',' '\n' | grep -qx ro; then
    mount -o remount,rw "$boot"
    echo "remounted $boot read-write for this change (read-only again at the next boot)"
  fi
}

# -- file actions (idempotent, honour --root) ------------------------------------------------

put() {  # put DEST MODE SOURCE-FILE: DEST gets exactly SOURCE's bytes and MODE
  local dest=$1 mode=$2 source=$3 path=$root$1 state=new
  if [[ -f $path && ! -L $path ]]; then
    if cmp -s "$source" "$path" && [[ $(stat -c %a "$path") == "$mode" ]]; then
      unchanged=$((unchanged + 1))
      return
    fi
    state=changed
  fi
  changed=$((changed + 1))
  [[ $dest == "$UNIT_DIR"/* || $dest == /etc/fstab ]] && units_changed=1
  if ! applying_files; then
    echo "would write $dest ($state)"
    return
  fi
  before_change "$dest"
  [[ $dest == "$boot"/* ]] && writable_boot
  mkdir -p "$(dirname "$path")"
  install -m "$mode" "$source" "$path.signage-new"
  mv -f "$path.signage-new" "$path"
  echo "wrote $dest ($state)"
}

symlink() {  # symlink DEST TARGET
  local dest=$1 target=$2 path=$root$1
  if [[ -L $path && $(readlink "$path") == "$target" ]]; then
    unchanged=$((unchanged + 1))
    return
  fi
  if [[ -e $path && ! -L $path ]]; then
    echo "warning: $dest is a real file, not replacing it by a link to $target" >&2
    skipped=$((skipped + 1))
    return
  fi
  changed=$((changed + 1))
  units_changed=1
  if ! applying_files; then
    echo "would link $dest -> $target"
    return
  fi
  before_change "$dest"
  mkdir -p "$(dirname "$path")"
  ln -sfn "$target" "$path"
  echo "linked $dest -> $target"
}

make_dir() {  # make_dir DEST MODE
  local dest=$1 mode=$2 path=$root$1
  if [[ -d $path && $(stat -c %a "$path") == "$mode" ]]; then
    unchanged=$((unchanged + 1))
    return
  fi
  changed=$((changed + 1))
  if ! applying_files; then
    echo "would create folder $dest (mode $mode)"
    return
  fi
  before_change "$dest"
  mkdir -p "$path"
  chmod "$mode" "$path"
  echo "created folder $dest (mode $mode)"
}

edit() {  # edit DEST FUNCTION: DEST becomes what FUNCTION prints from DEST's text on stdin
  local dest=$1 transform=$2 path=$root$1 tmp
  if [[ ! -f $path ]]; then
    echo "skip: $dest does not exist (not a Raspberry Pi OS image?)"
    skipped=$((skipped + 1))
    return
  fi
  tmp=$(mktemp "$work/edit.XXXXXX")
  "$transform" <"$path" >"$tmp"
  put "$dest" "$(stat -c %a "$path")" "$tmp"
}

# -- commands (need the real Pi; printed under --root and --dry-run) -------------------------

step() {  # step CHECK DESCRIPTION COMMAND...: run COMMAND unless CHECK says it is done
  local check=$1 description=$2
  shift 2
  if "$check"; then
    unchanged=$((unchanged + 1))
    return
  fi
  if [[ -n $root ]]; then
    echo "skip (needs a real Pi): $description"
    skipped=$((skipped + 1))
    return
  fi
  changed=$((changed + 1))
  if (( dry_run )); then
    echo "would run: $description"
    return
  fi
  before_change "$description"
  echo "run: $description"
  "$@"
}

# -- checks: each reads the system under --root where it can ---------------------------------

packages_installed() {
  local status=$root/var/lib/dpkg/status package
  [[ -f $status ]] || return 1
  for package in "${PACKAGES[@]}"; do
    awk -v p="$package" '
      /^Package: / { name = $2 }
      /^Status: / && name == p && $0 ~ /install ok installed/ { found = 1 }
      END { exit !found }' "$status" || return 1
  done
}

user_ready() {
  local group
  grep -q "^$KIOSK_USER:" "$root/etc/passwd" 2>/dev/null || return 1
  for group in $(existing_groups); do
    grep -qE "^$group:[^:]*:[^:]*:(.*,)?$KIOSK_USER(,|$)" "$root/etc/group" || return 1
  done
}

existing_groups() {  # the wanted groups that exist here (gpio exists only on Pi OS)
  local group
  for group in "${KIOSK_GROUPS[@]}"; do
    grep -q "^$group:" "$root/etc/group" 2>/dev/null && echo "$group"
  done
  return 0
}

source_hash() {  # what the venv was built from; pip runs again only when it changed
  (cd "$repo" && find pyproject.toml kiosk signage_shared -type f \
      \( -name '*.py' -o -name '*.toml' -o -name '*.ttf' -o -name '*.txt' \) -print0 \
    | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-64)
}

venv_current() {
  [[ -x $root$VENV/bin/signage-kiosk ]] &&
    [[ $(cat "$root$VENV/.signage-source" 2>/dev/null) == "$(source_hash)" ]]
}

data_owned() { [[ $(stat -c %U "$root$DATA_DIR" 2>/dev/null) == "$KIOSK_USER" ]]; }

data_mounted() { [[ -z $data_device ]] || mountpoint -q "$root$DATA_DIR"; }

enrolled() { [[ -f $root$DATA_DIR/credentials.json ]]; }

overlay_configured() { grep -qE '(^| )overlayroot=' "$root$boot/cmdline.txt" 2>/dev/null; }

# -- commands ----------------------------------------------------------------------------------

install_packages() {
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${PACKAGES[@]}"
}

create_user() {
  local groups
  groups=$(existing_groups | paste -sd, -)
  if id "$KIOSK_USER" >/dev/null 2>&1; then
    usermod --append --groups "$groups" "$KIOSK_USER"
  else
    useradd --system --user-group --home-dir "$DATA_DIR" --no-create-home \
      --shell /usr/sbin/nologin --groups "$groups" "$KIOSK_USER"
  fi
}

install_kiosk() {
  # --system-site-packages: gpiozero finds Debian's lgpio (Pi 5 GPIO) there.
  [[ -x $VENV/bin/python ]] || python3 -m venv --system-site-packages "$VENV"
  "$VENV/bin/pip" install --quiet --upgrade pip
  "$VENV/bin/pip" install --no-binary pygame "${repo}[kiosk]"
  check_pygame_kmsdrm
  source_hash >"$VENV/.signage-source"
}

check_pygame_kmsdrm() {  # the pygame we built must use Debian's SDL, which has KMS/DRM
  local module
  module=$(PYGAME_HIDE_SUPPORT_PROMPT=1 "$VENV/bin/python" -c \
    'import pygame.base as b; print(b.__file__)')
  if ! ldd "$module" | grep -qE "libSDL2-2\.0\.so\.0 => /(usr/)?lib/"; then
    die "pygame in $VENV does not use Debian's SDL 2 (no KMS/DRM driver); see deploy/pi/README"
  fi
}

own_data() { chown "$KIOSK_USER:$KIOSK_USER" "$DATA_DIR"; chmod 0700 "$DATA_DIR"; }

mount_data() { mount "$DATA_DIR"; }

enroll_kiosk() {
  runuser -u "$KIOSK_USER" -- env SIGNAGE_KIOSK_DATA="$DATA_DIR" \
    "$VENV/bin/signage-kiosk" --data "$DATA_DIR" enroll "$code" --server "$server"
}

enable_overlay() {
  raspi-config nonint do_overlayfs 0
}

daemon_reload() { systemctl daemon-reload; }

units_unchanged() { (( ! units_changed )); }

# -- text transformations (stdin -> stdout) ----------------------------------------------------

with_cmdline_tokens() {  # cmdline.txt is one line: keep it, add our tokens once
  local line token out=()
  IFS= read -r line || true
  read -r -a out <<<"$line"
  for token in "${!out[@]}"; do
    # raspi-config writes overlayroot=tmpfs; recurse=0 keeps the data partition out of the
    # RAM overlay (else every fstab mount is overlaid too and the journal is lost at boot).
    [[ ${out[token]} == overlayroot=tmpfs ]] && out[token]=overlayroot=tmpfs:recurse=0
  done
  for token in "${CMDLINE_TOKENS[@]}"; do
    [[ " ${out[*]} " == *" $token "* ]] || out+=("$token")
  done
  printf '%s\n' "${out[*]}"
}

CONFIG_BEGIN="# >>> signage-kiosk (deploy/pi/install.sh): hardware watchdog, no rainbow splash"
CONFIG_END="# <<< signage-kiosk"

with_config_block() {  # config.txt: our settings in one marked block at the end, in [all]
  awk -v begin="$CONFIG_BEGIN" -v end="$CONFIG_END" '
    $0 == begin { skip = 1; next }
    skip && $0 == end { skip = 0; next }
    !skip { print }'
  printf '%s\n' "$CONFIG_BEGIN" "[all]" "dtparam=watchdog=on" "disable_splash=1" "$CONFIG_END"
}

with_fstab_entries() {  # the boot partition read-only; the data partition, if any
  awk -v boot="$boot" -v data="$DATA_DIR" -v device="$data_device" '
    $1 !~ /^#/ && $2 == boot && ("," $4 ",") !~ /,ro,/ { $4 = $4 ",ro" }
    $1 !~ /^#/ && $2 == data { next }
    { print }
    END {
      if (device != "")
        printf "%s %s ext4 defaults,noatime,nofail,x-systemd.device-timeout=20s,x-systemd.before=signage-data.service 0 2\n", device, data
    }'
}

# -- the plan ------------------------------------------------------------------------------------

main() {
  parse_args "$@"
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  boot=/boot/firmware
  [[ ! -f $root/boot/firmware/config.txt && -f $root/boot/config.txt ]] && boot=/boot

  if [[ -z $root ]] && (( ! dry_run )) && [[ $EUID -ne 0 ]]; then
    die "run as root (sudo), or try --dry-run"
  fi
  if ! enrolled && [[ -z $server || -z $code ]]; then
    echo "install.sh: --server and --code are needed to enroll this kiosk" >&2
    usage >&2
    exit 2
  fi
  local mode="installing"
  (( dry_run )) && mode="dry run, nothing is changed"
  [[ -n $root ]] && mode="files go under $root; commands that need a real Pi are skipped"
  echo "signage kiosk: $mode"
  check_platform

  step packages_installed "apt-get install ${PACKAGES[*]}" install_packages
  step user_ready "create user $KIOSK_USER (groups ${KIOSK_GROUPS[*]})" create_user
  step venv_current "pip install --no-binary pygame '${repo}[kiosk]' into $VENV" install_kiosk

  if [[ -n $data_device ]]; then
    edit /etc/fstab with_fstab_entries
    step data_mounted "mount $data_device on $DATA_DIR" mount_data
  fi
  make_dir "$DATA_DIR" 700
  step data_owned "chown $KIOSK_USER $DATA_DIR" own_data
  step enrolled "enroll at $server as user $KIOSK_USER" enroll_kiosk

  put "$UNIT_DIR/signage-kiosk.service" 644 "$FILES/signage-kiosk.service"
  put "$UNIT_DIR/signage-data.service" 644 "$FILES/signage-data.service"
  put "$LIB_DIR/data-mount" 755 "$FILES/data-mount"
  put /usr/local/sbin/signage-maintenance 755 "$FILES/signage-maintenance"
  symlink "$UNIT_DIR/multi-user.target.wants/signage-kiosk.service" \
    "$UNIT_DIR/signage-kiosk.service"
  local unit
  for unit in "${MASKED_UNITS[@]}"; do
    symlink "$UNIT_DIR/$unit" /dev/null
  done
  put /etc/systemd/journald.conf.d/signage-kiosk.conf 644 "$FILES/journald.conf"
  put /etc/systemd/system.conf.d/signage-kiosk-watchdog.conf 644 "$FILES/watchdog.conf"
  put /etc/NetworkManager/conf.d/signage-kiosk.conf 644 "$FILES/networkmanager.conf"
  [[ -z $data_device ]] && edit /etc/fstab with_fstab_entries
  edit "$boot/config.txt" with_config_block
  step units_unchanged "systemctl daemon-reload" daemon_reload

  # Last: the read-only root. raspi-config installs the overlay into the initramfs and adds
  # overlayroot=tmpfs to cmdline.txt, which the edit below turns into recurse=0.
  step overlay_configured "raspi-config nonint do_overlayfs 0 (read-only root)" enable_overlay
  edit "$boot/cmdline.txt" with_cmdline_tokens

  summary
}

check_platform() {
  [[ -n $root ]] && return
  local codename arch
  codename=$(sed -n 's/^VERSION_CODENAME=//p' /etc/os-release 2>/dev/null)
  arch=$(uname -m)
  [[ $codename == bookworm ]] || echo "warning: made for Raspberry Pi OS Bookworm, this is '$codename'" >&2
  [[ $arch == aarch64 ]] || echo "warning: made for 64-bit Raspberry Pi OS, this is $arch" >&2
  return 0
}

summary() {
  local verb="changes made"
  (( dry_run )) && ! applying_files && verb="changes planned"
  if (( changed == 0 )); then
    echo "nothing to change ($unchanged already right)"
  else
    echo "$verb: $changed ($unchanged already right)"
  fi
  if (( skipped )); then
    echo "skipped: $skipped (they need a real Raspberry Pi, or a file was missing)"
  fi
  if (( changed )) && [[ -z $root ]] && (( ! dry_run )); then
    echo "reboot to start the kiosk with a read-only root: sudo reboot"
  fi
}

main "$@"
