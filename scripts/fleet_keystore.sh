#!/usr/bin/env bash
# The fleet's SROS2 keystore (docs/security.md): the policy from the fleet description, then
# sros2's own command line makes the certificate authority, the governance, and each
# enclave's key, certificate and signed permissions; last, one archive per robot holding its
# enclave only (what that robot gets).
#
#   ROS_DOMAIN_ID=42 scripts/fleet_keystore.sh FLEET.yaml KEYSTORE_DIR
#   make keystore FLEET=FLEET.yaml KEYSTORE=KEYSTORE_DIR ROS_DOMAIN_ID=42
#
# ROS_DOMAIN_ID must be the fleet's domain: sros2 writes it into the governance and every
# permissions file (a node on another domain is refused). `ros2 security` (sros2) must be on
# PATH: ROS 2 Humble has it (ros-humble-ros-base and the simulation image); without it the
# policy is written and the script stops, saying where to run the rest.
set -euo pipefail

usage() {
    echo "usage: ROS_DOMAIN_ID=N $0 FLEET.yaml KEYSTORE_DIR" >&2
    exit 2
}
[ $# -eq 2 ] || usage
fleet=$1
keystore=$2
[ -f "$fleet" ] || { echo "$0: no fleet description at $fleet" >&2; exit 2; }
if [ -z "${ROS_DOMAIN_ID:-}" ]; then
    echo "$0: set ROS_DOMAIN_ID to the fleet's domain (docs/deploy-jetbot.md uses 42): sros2" \
         "writes it into the keystore's governance and permissions" >&2
    exit 2
fi
export ROS_DOMAIN_ID

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
python=${PYTHON:-python3}
mkdir -p "$keystore"
policy="$keystore/policy.xml"
PYTHONPATH="$repo/ros2_ws/src/marlgpt_planner${PYTHONPATH:+:$PYTHONPATH}" \
    "$python" -m marlgpt_planner.security_policy --fleet "$fleet" --out "$policy"

if ! command -v ros2 >/dev/null 2>&1 || ! ros2 security --help >/dev/null 2>&1; then
    cat >&2 <<EOF
$0: wrote $policy, but \`ros2 security\` (sros2) is not on this machine, so no keys were made.
Run this script where ROS 2 Humble is, e.g. in the simulation image, from the repository root
(the fleet description inside it, the keystore mounted at /keystore):
  docker run --rm -u "\$(id -u):\$(id -g)" -e HOME=/tmp -e ROS_DOMAIN_ID=$ROS_DOMAIN_ID \\
    -v "\$PWD":/repo:ro -w /repo -v "$(cd "$keystore" && pwd)":/keystore \\
    marlgpt/sim:0.1.0 scripts/fleet_keystore.sh $fleet /keystore
EOF
    exit 3
fi

governance="$keystore/enclaves/governance.xml"
if [ -f "$governance" ] && ! grep -q "<id>$ROS_DOMAIN_ID</id>" "$governance"; then
    echo "$0: $keystore was made for another ROS_DOMAIN_ID (see $governance); use a new" \
         "directory" >&2
    exit 2
fi
# Creates the keystore if needed, then an enclave per <enclave path> with the policy's
# permissions (keys already there are kept: run it again after changing the fleet).
ros2 security generate_artifacts -k "$keystore" -p "$policy"

# One archive per enclave: its directory with the CA certificates and the signed governance
# it links to copied in (tar -h), so a robot gets its own key and nothing else.
mkdir -p "$keystore/bundles"
enclaves=$(sed -n 's/.*<enclave path="\([^"]*\)">.*/\1/p' "$policy")
for enclave in $enclaves; do
    name=${enclave##*/}
    tar -C "$keystore" -chzf "$keystore/bundles/$name.tar.gz" "enclaves${enclave}"
    echo "$enclave: $keystore/bundles/$name.tar.gz"
done
echo "keystore for ROS_DOMAIN_ID=$ROS_DOMAIN_ID in $keystore (private/ stays on this machine)"
