-- Argo CD health of a kuantum.dev QuantumJob. status.state is the one truth and final states never change:
-- Succeeded -> Healthy, Failed -> Degraded (with the error), Cancelled -> Suspended (it ended as asked, without
-- output: not a failure, not done), Waiting and Executing -> Progressing, no status yet -> Progressing.
-- Runs in Argo CD's Lua sandbox (no string or math library): only plain Lua is used.
local health = {}
local status = obj.status

local function condition(kind)
  if status == nil or status.conditions == nil then
    return nil
  end
  for _, c in ipairs(status.conditions) do
    if c.type == kind then
      return c
    end
  end
  return nil
end

if status == nil or status.state == nil then
  health.status = "Progressing"
  health.message = "Waiting for the Kuantum operator to accept the job"
  return health
end

local state = status.state
if state == "Succeeded" then
  health.status = "Healthy"
  health.message = "Succeeded"
  if status.duration ~= nil then
    health.message = health.message .. " in " .. status.duration
  end
elseif state == "Failed" then
  health.status = "Degraded"
  if status.errorData ~= nil and status.errorData.code ~= nil then
    health.message = "Failed: " .. status.errorData.code
    if status.errorData.message ~= nil then
      health.message = health.message .. ": " .. status.errorData.message
    end
  else
    health.message = "Failed"
  end
elseif state == "Cancelled" then
  health.status = "Suspended"
  health.message = "Cancelled"
  if obj.spec ~= nil and obj.spec.cancel == true then
    health.message = health.message .. " (spec.cancel)"
  end
  if status.cancellationTime ~= nil then
    health.message = health.message .. " at " .. status.cancellationTime
  end
  health.message = health.message .. "; the job has no output"
elseif state == "Executing" then
  health.status = "Progressing"
  health.message = "Executing on " .. tostring(obj.spec and obj.spec.target)
  local refused = condition("CancelRequested")
  if refused ~= nil and refused.status == "True" and refused.message ~= nil then
    health.message = health.message .. "; cancel requested: " .. refused.message
  end
else
  health.status = "Progressing"
  health.message = state
  local queued = condition("Queued")
  if queued ~= nil and queued.status == "False" and queued.message ~= nil then
    health.message = health.message .. ": " .. queued.message
  elseif status.queuePosition ~= nil then
    health.message = health.message .. " in the queue at position " .. status.queuePosition
  end
end
return health
