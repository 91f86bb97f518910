#!/bin/sh
# A Debian bookworm minbase root file system in $1, slimmed as the official debian:bookworm-slim image is
# (what debuerreotype does): no apt caches, no translations, gzipped lists, no services started by package
# scripts, no documentation, man pages or locales. The Debian archive is the only thing it downloads from.
set -eu
R="${1:?usage: debian-rootfs.sh FOLDER}"
debootstrap --variant=minbase bookworm "$R" http://deb.debian.org/debian
cat > "$R/etc/apt/apt.conf.d/docker-clean" <<'X'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
X
echo 'Acquire::Languages "none";' > "$R/etc/apt/apt.conf.d/docker-no-languages"
echo 'Acquire::GzipIndexes "true";' > "$R/etc/apt/apt.conf.d/docker-gzip-indexes"
echo 'Apt::AutoRemove::SuggestsImportant "false";' > "$R/etc/apt/apt.conf.d/docker-autoremove-suggests"
echo 'force-unsafe-io' > "$R/etc/dpkg/dpkg.cfg.d/docker-apt-speedup"
cat > "$R/etc/dpkg/dpkg.cfg.d/docker-slim" <<'X'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/lintian/overrides/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
path-exclude /usr/share/man/*
X
printf '#!/bin/sh\nexit 101\n' > "$R/usr/sbin/policy-rc.d"
chmod +x "$R/usr/sbin/policy-rc.d"
find "$R/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
find "$R/usr/share/locale" -mindepth 1 -maxdepth 1 -not -name locale.alias -exec rm -rf {} +
rm -rf "$R/usr/share/man/"* "$R/usr/share/info/"* "$R/usr/share/groff/"* "$R/usr/share/lintian/overrides/"*
rm -f "$R/var/cache/apt/archives/"*.deb "$R/var/cache/apt/"*.bin
rm -rf "$R/var/lib/apt/lists/"* "$R/var/log/"*.log "$R/var/log/apt/"* "$R/etc/apt/sources.list"
# bookworm, bookworm-updates and bookworm-security, as the official image lists them.
cat > "$R/etc/apt/sources.list.d/debian.sources" <<'X'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
X
