"""Runs Argo CD resource customizations (health.lua, discovery.lua, action.lua) as Argo CD does, with lupa.

Argo CD (util/lua/lua.go) runs a customization from `argocd-cm` in gopher-lua (Lua 5.1) with only the base,
table, package and a safe subset of the os library open (no string, math or io), the object as the global
`obj`, and reads the table the script returns. This harness mirrors that on Lua 5.1: each script runs in a
fresh runtime, in an environment holding only those libraries, with the string metatable removed (so
`s:sub(...)` fails as it does in Argo CD's sandbox).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from lupa import lua51

_BASE = ("assert", "error", "ipairs", "next", "pairs", "pcall", "print", "rawequal", "rawget", "rawset", "select",
         "setmetatable", "getmetatable", "tonumber", "tostring", "type", "unpack", "xpcall", "_VERSION")

_RUNNER = """
function(source, name, obj, base, safe_os)
  local env = {}
  for _, key in ipairs(base) do env[key] = _G[key] end
  env.table = table
  env.os = safe_os
  env.obj = obj
  env._G = env
  local chunk, err = loadstring(source, name)
  if chunk == nil then error(err) end
  setfenv(chunk, env)
  debug.setmetatable("", nil)
  return chunk()
end
"""


def _to_lua(runtime: Any, value: Any) -> Any:
    if isinstance(value, dict):
        return runtime.table_from({k: _to_lua(runtime, v) for k, v in value.items() if v is not None})
    if isinstance(value, list):
        return runtime.table_from([_to_lua(runtime, v) for v in value])
    return value


def _from_lua(value: Any) -> Any:
    if hasattr(value, "items") and not isinstance(value, dict):  # a Lua table
        items = dict(value.items())
        keys = list(items)
        if keys and all(isinstance(k, int) for k in keys) and sorted(keys) == list(range(1, len(keys) + 1)):
            return [_from_lua(items[i]) for i in range(1, len(keys) + 1)]
        return {str(k): _from_lua(v) for k, v in items.items()}
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def run(source: str, obj: dict[str, Any], name: str = "script") -> Any:
    """The value the script returns, as Python (tables become dicts or lists)."""
    runtime = lua51.LuaRuntime(register_eval=False, register_builtins=False)
    base = runtime.table_from(list(_BASE))
    safe_os = runtime.eval("{clock = os.clock, date = os.date, difftime = os.difftime, time = os.time}")
    runner = runtime.eval(_RUNNER)
    return _from_lua(runner(source, name, _to_lua(runtime, obj), base, safe_os))


def health(source: str, obj: dict[str, Any]) -> dict[str, str]:
    """{status, message} as Argo CD's ExecuteHealthLua reads it."""
    result = run(source, obj, "health.lua")
    assert isinstance(result, dict), f"health.lua returned {result!r}, not a table"
    assert result.get("status") in {"Healthy", "Progressing", "Degraded", "Suspended", "Missing", "Unknown"}, result
    return {"status": str(result["status"]), "message": str(result.get("message", ""))}


def discover(source: str, obj: dict[str, Any]) -> list[dict[str, Any]]:
    """The actions discovery.lua offers, as Argo CD lists them: name plus the action's fields."""
    result = run(source, obj, "discovery.lua")
    assert isinstance(result, dict), f"discovery.lua returned {result!r}"
    return sorted(({"name": name, **fields} for name, fields in result.items()), key=lambda a: a["name"])


# ------------------------------------------------------------------------------ argocd-cm
CUSTOMIZATIONS = Path(__file__).resolve().parents[2] / "gitops" / "argocd" / "resource_customizations"
ARGOCD_CM_PATCH = CUSTOMIZATIONS.parent / "argocd-cm-patch.yaml"
_HEADER = """\
# Kuantum's Argo CD health checks and the QuantumJob "cancel" action, as an argocd-cm patch.
# Generated from resource_customizations/ by `python -m tests.support.argocd_lua`; a unit test checks it.
# Apply: kubectl -n argocd patch configmap argocd-cm --patch-file gitops/argocd/argocd-cm-patch.yaml
"""


def _literal(dumper: yaml.SafeDumper, text: str) -> yaml.ScalarNode:
    style = "|" if "\n" in text else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


class _Dumper(yaml.SafeDumper):
    pass


_Dumper.add_representer(str, _literal)


def argocd_cm_patch() -> str:
    """The argocd-cm data keys for every kind under resource_customizations/kuantum.dev."""
    data: dict[str, str] = {}
    for kind_dir in sorted((CUSTOMIZATIONS / "kuantum.dev").iterdir()):
        key = f"kuantum.dev_{kind_dir.name}"
        data[f"resource.customizations.health.{key}"] = (kind_dir / "health.lua").read_text()
        actions = kind_dir / "actions"
        if actions.is_dir():
            definitions = [{"name": d.name, "action.lua": (d / "action.lua").read_text()}
                           for d in sorted(actions.iterdir()) if (d / "action.lua").is_file()]
            data[f"resource.customizations.actions.{key}"] = yaml.dump(
                {"discovery.lua": (actions / "discovery.lua").read_text(), "definitions": definitions},
                Dumper=_Dumper, sort_keys=False, width=120)
    return _HEADER + yaml.dump({"data": data}, Dumper=_Dumper, sort_keys=False, width=120)


if __name__ == "__main__":
    ARGOCD_CM_PATCH.write_text(argocd_cm_patch())
    print(f"wrote {ARGOCD_CM_PATCH}")
