#!/usr/bin/env bash
# Fetches the GraphiQL the service serves, and the React it runs on, from the npm
# registry into this folder: `npm pack` of each exact version (npm checks each
# tarball against the registry's integrity), then the browser (UMD) builds and the
# licences copied out. Run it only to change a version; the files are committed, and
# src/graphiql.rs names the versions in the URLs it serves them under.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
GRAPHIQL=4.1.2
REACT=18.3.1

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
npm pack --silent "graphiql@$GRAPHIQL" "react@$REACT" "react-dom@$REACT" >/dev/null
for package in "graphiql-$GRAPHIQL" "react-$REACT" "react-dom-$REACT"; do
    mkdir "$package"
    tar -xzf "$package.tgz" -C "$package"
done
cp "graphiql-$GRAPHIQL/package/graphiql.min.js" "graphiql-$GRAPHIQL/package/graphiql.min.css" "$here/"
cp "graphiql-$GRAPHIQL/package/LICENSE" "$here/LICENSE.graphiql"
cp "react-$REACT/package/umd/react.production.min.js" "$here/"
cp "react-dom-$REACT/package/umd/react-dom.production.min.js" "$here/"
# react and react-dom ship the same licence text.
cmp -s "react-$REACT/package/LICENSE" "react-dom-$REACT/package/LICENSE"
cp "react-$REACT/package/LICENSE" "$here/LICENSE.react"
cd "$here"
sha256sum graphiql.min.js graphiql.min.css react.production.min.js react-dom.production.min.js
