#!/usr/bin/env bash
# Builds artifacts/deb/ipop_<version>_amd64.deb with dpkg-deb: the Native AOT hosts, their systemd unit templates,
# example configs and the docs. The binaries come from artifacts/publish/<name>/<name> (scripts/publish.sh); missing
# ones are published first when scripts/publish.sh exists.
#
# Layout: /usr/lib/ipop/<name>/ holds each binary and the native libraries it loads from beside itself (NSec's
# libsodium.so), /usr/bin/<name> links to it; /lib/systemd/system/<name>@.service;
# /etc/ipop/*.example.json (conffiles) and /etc/ipop/{tincan,groupvpn,socialvpn}/ for the instances' configs;
# /usr/share/doc/ipop/. Depends: computed from the binaries (the shared libraries they link, the newest glibc symbol
# version they use) plus libssl3, which .NET loads at run time for TLS and hashes.
#
# Usage: bash scripts/package-deb.sh            all three hosts
#        IPOP_DEB_PROGRAMS="ipop-tincan" bash scripts/package-deb.sh   a package of only some (for tests)
#        IPOP_DEB_VERSION=0.1.0-2 ...            another version (default: <Version> of Directory.Build.props, "-" as "~" so 1.0.0~rc.1 sorts before 1.0.0)
#        IPOP_DEB_OUTDIR=/tmp/x ...              another output directory (default: artifacts/deb)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

die() { echo "package-deb: $*" >&2; exit 1; }
command -v dpkg-deb >/dev/null || die "dpkg-deb is missing (apt-get install dpkg)"
command -v objdump >/dev/null || die "objdump is missing (apt-get install binutils): it reads the binaries' library needs"

read -r -a programs <<<"${IPOP_DEB_PROGRAMS:-ipop-tincan groupvpn socialvpn}"
version=${IPOP_DEB_VERSION:-$(sed -n 's:.*<Version>\(.*\)</Version>.*:\1:p' Directory.Build.props | awk 'NR == 1' | sed 's/-/~/')}
[ -n "$version" ] || die "no <Version> in Directory.Build.props and IPOP_DEB_VERSION is not set"
arch=amd64

missing=()
for p in "${programs[@]}"; do
  case "$p" in ipop-tincan | groupvpn | socialvpn) ;; *) die "unknown program '$p' (expected ipop-tincan, groupvpn, socialvpn)" ;; esac
  [ -x "artifacts/publish/$p/$p" ] || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  [ -f scripts/publish.sh ] || die "artifacts/publish/<name>/<name> is missing for ${missing[*]} and scripts/publish.sh does not exist on this branch: publish the Native AOT hosts first (dotnet publish <project> -c Release -r linux-x64 -p:PublishAot=true -o artifacts/publish/<name>)"
  echo "package-deb: publishing ${missing[*]} (scripts/publish.sh)"
  bash scripts/publish.sh "${missing[@]}"
  for p in "${missing[@]}"; do [ -x "artifacts/publish/$p/$p" ] || die "scripts/publish.sh did not produce artifacts/publish/$p/$p"; done
fi
for p in "${programs[@]}"; do
  objdump -f "artifacts/publish/$p/$p" 2>/dev/null | grep 'elf64-x86-64' >/dev/null ||
    die "artifacts/publish/$p/$p is not an x86-64 ELF executable (a JIT apphost or another architecture?)"
done

stage=$(mktemp -d "${TMPDIR:-/tmp}/ipop-deb-XXXXXX")
trap 'rm -rf "$stage"' EXIT
pkg="$stage/ipop"
install -d -m 0755 "$pkg/DEBIAN" "$pkg/usr/bin" "$pkg/usr/lib/ipop" "$pkg/lib/systemd/system" "$pkg/usr/share/doc/ipop" "$pkg/etc/ipop"

elves=()
for p in "${programs[@]}"; do
  install -d -m 0755 "$pkg/usr/lib/ipop/$p"
  # The executable and the native libraries it loads from its own directory (NSec's libsodium.so); the publish's
  # debug symbols (.dbg), PDBs and XML docs of the libraries stay out.
  install -m 0755 "artifacts/publish/$p/$p" "$pkg/usr/lib/ipop/$p/"
  find "artifacts/publish/$p" -maxdepth 1 -type f \( -name '*.so' -o -name '*.so.*' \) -exec install -m 0644 {} "$pkg/usr/lib/ipop/$p/" \;
  ln -s "../lib/ipop/$p/$p" "$pkg/usr/bin/$p"
  while IFS= read -r -d '' f; do elves+=("$f"); done < <(find "$pkg/usr/lib/ipop/$p" -type f \( -name "$p" -o -name '*.so' -o -name '*.so.*' \) -print0)

  conf=${p#ipop-}
  install -m 0644 "packaging/systemd/$p@.service" "$pkg/lib/systemd/system/"
  # Instance configs may hold secrets: root only (systemd hands the service a copy, see the unit's LoadCredential=).
  install -d -m 0700 "$pkg/etc/ipop/$conf"
  case "$p" in
    ipop-tincan) install -m 0644 packaging/examples/tincan.example.json "$pkg/etc/ipop/tincan.example.json"
                 install -m 0644 docs/tincan-host.md "$pkg/usr/share/doc/ipop/" ;;
    groupvpn) install -m 0644 samples/GroupVpnHost/groupvpn.example.json "$pkg/etc/ipop/"
              install -m 0644 docs/groupvpn.md "$pkg/usr/share/doc/ipop/" ;;
    socialvpn) install -m 0644 samples/SocialVpnHost/socialvpn.example.json "$pkg/etc/ipop/"
               install -m 0644 docs/socialvpn.md "$pkg/usr/share/doc/ipop/" ;;
  esac
done
install -m 0644 docs/install.md README.md "$pkg/usr/share/doc/ipop/"
install -m 0644 packaging/debian/copyright "$pkg/usr/share/doc/ipop/copyright"
printf 'ipop (%s) unstable; urgency=medium\n\n  * Built from %s.\n\n -- Ipop maintainers <ipop@localhost>  %s\n' \
  "$version" "$(git rev-parse --short HEAD 2>/dev/null || echo 'a source tree')" "$(date -R)" | gzip -9n >"$pkg/usr/share/doc/ipop/changelog.Debian.gz"

# Depends from the binaries themselves: each NEEDED library's package, and glibc at the newest symbol version used.
declare -A deps=()
glibc=0
for f in "${elves[@]}"; do
  while read -r lib; do
    [ -n "$lib" ] || continue
    # A library shipped in the package itself (libsodium.so next to the binary) needs no dependency.
    [ -e "$(dirname "$f")/$lib" ] && continue
    # No early exit in these pipelines: a reader that quits first kills the writer with SIGPIPE, which pipefail and
    # set -e would turn into a silent failure of the whole script.
    path=$(ldconfig -p | awk -v l="$lib" '$1 == l && /x86-64/ && !found { print $NF; found = 1 }')
    [ -n "$path" ] || die "$f needs $lib, which this machine does not have: cannot name its package"
    owner=$(dpkg -S "$(readlink -f "$path")" 2>/dev/null | awk -F: 'NR == 1 { print $1 }') || true
    [ -n "$owner" ] || owner=$(dpkg -S "$path" 2>/dev/null | awk -F: 'NR == 1 { print $1 }') || true
    [ -n "$owner" ] || die "no Debian package owns $path (needed by $f)"
    deps[$owner]=1
  done < <(objdump -p "$f" | awk '$1 == "NEEDED" { print $2 }')
  v=$(objdump -T "$f" | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' | sort -V | tail -n 1 || true)
  [ -n "$v" ] && glibc=$(printf '%s\n%s\n' "$glibc" "$v" | sort -V | tail -n 1)
done
unset 'deps[libc6]'
depends="libc6 (>= $glibc)"
for d in $(printf '%s\n' "${!deps[@]}" | sort); do depends+=", $d"; done
# Loaded with dlopen at run time, so invisible to objdump: OpenSSL (System.Security.Cryptography: TLS to XMPP,
# HMAC-SHA1 of STUN). Debian 12 names it libssl3; later releases libssl3t64.
depends+=", libssl3 | libssl3t64"

installed_kb=$(du -sk --exclude=DEBIAN "$pkg" | cut -f1)
cat >"$pkg/DEBIAN/control" <<CONTROL
Package: ipop
Version: $version
Architecture: $arch
Maintainer: Ipop maintainers <ipop@localhost>
Installed-Size: $installed_kb
Depends: $depends
Recommends: systemd
Section: net
Priority: optional
Homepage: https://github.com/ipop-project
Description: peer-to-peer VPN nodes (Tincan links, GroupVPN, SocialVPN)
 Native AOT builds of the Ipop hosts: ${programs[*]}.
 Each runs as a hardened systemd service (DynamicUser, CAP_NET_ADMIN only,
 read-only system) from a config in /etc/ipop/<product>/<name>.json; nothing
 is enabled or started on install. See /usr/share/doc/ipop/install.md.
CONTROL
find "$pkg/etc" -type f | sed "s:^$pkg::" | sort >"$pkg/DEBIAN/conffiles"
for s in postinst prerm postrm; do install -m 0755 "packaging/debian/$s" "$pkg/DEBIAN/$s"; done

outdir=${IPOP_DEB_OUTDIR:-$root/artifacts/deb}
mkdir -p "$outdir"
out="$outdir/ipop_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Zxz --build "$pkg" "$out" >/dev/null
echo "package-deb: $out ($(( $(stat -c %s "$out") / 1024 )) KiB; programs: ${programs[*]}; Depends: $depends)"
if command -v lintian >/dev/null; then
  lintian --no-tag-display-limit "$out" || echo "package-deb: lintian reported the above" >&2
fi
