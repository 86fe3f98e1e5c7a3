-- Argo CD health of a kuantum.dev QuantumWorkspace, read from its kstatus-style conditions (set by the operator's
-- workspaces/workspace_reconciler.py): Ready=True -> Healthy; Ready=False -> Degraded with the condition's
-- reason and message; no Ready yet, or a spec change the operator has not observed -> Progressing.
-- Runs in Argo CD's Lua sandbox (no string or math library): only plain Lua is used.
local health = {}
local status = obj.status
if status == nil or status.conditions == nil then
  health.status = "Progressing"
  health.message = "Waiting for the Kuantum operator"
  return health
end
if obj.metadata ~= nil and obj.metadata.generation ~= nil and status.observedGeneration ~= nil
    and status.observedGeneration < obj.metadata.generation then
  health.status = "Progressing"
  health.message = "Waiting for the Kuantum operator to observe the latest spec"
  return health
end
for _, c in ipairs(status.conditions) do
  if c.type == "Ready" then
    if c.status == "True" then
      health.status = "Healthy"
      health.message = c.message or "Ready"
    else
      health.status = "Degraded"
      health.message = (c.reason or "NotReady") .. ": " .. (c.message or "not ready")
    end
    return health
  end
end
health.status = "Progressing"
health.message = "Waiting for the Kuantum operator"
return health
