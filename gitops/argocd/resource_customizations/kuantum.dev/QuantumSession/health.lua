-- Argo CD health of a kuantum.dev QuantumSession. status.state is the one truth and final states never change:
-- Succeeded -> Healthy, Failed -> Degraded (with the error), TimedOut -> Suspended (it ended unclosed, as idle
-- sessions end: not a failure, not done on purpose), Waiting, Executing and Failure(s) (open, Continue policy)
-- -> Progressing with its job counts, no status yet -> Progressing, a spec the operator cannot read -> Degraded.
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

-- "2 Succeeded, 1 Executing": in a fixed order (pairs() has none).
local function counts()
  local text = ""
  if status.jobCounts == nil then
    return "no jobs"
  end
  for _, state in ipairs({"Waiting", "Executing", "Succeeded", "Failed", "Cancelled"}) do
    local n = status.jobCounts[state]
    if n ~= nil and n > 0 then
      if text ~= "" then
        text = text .. ", "
      end
      text = text .. n .. " " .. state
    end
  end
  if text == "" then
    return "no jobs"
  end
  return text
end

local stalled = condition("Stalled")
if (status == nil or status.state == nil) and stalled ~= nil and stalled.status == "True" then
  health.status = "Degraded"
  health.message = stalled.reason .. ": " .. stalled.message
  return health
end
if status == nil or status.state == nil then
  health.status = "Progressing"
  health.message = "Waiting for the Kuantum operator to accept the session"
  return health
end

local state = status.state
if state == "Succeeded" then
  health.status = "Healthy"
  health.message = "Succeeded (" .. counts() .. ")"
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
elseif state == "TimedOut" then
  health.status = "Suspended"
  health.message = "TimedOut: no job joined, ran or ended for the idle timeout (" .. counts() .. ")"
else
  health.status = "Progressing"
  health.message = state .. " on " .. tostring(obj.spec and obj.spec.target) .. " (" .. counts() .. ")"
  if obj.spec ~= nil and obj.spec.close == true then
    health.message = health.message .. "; closed, ending once its jobs are final"
  end
end
return health
