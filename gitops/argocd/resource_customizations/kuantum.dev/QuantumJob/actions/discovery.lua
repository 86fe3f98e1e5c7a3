-- Actions of a kuantum.dev QuantumJob: "cancel" while the job is not final and no cancel was asked yet.
-- (An executing job on a target that cannot cancel keeps running; its CancelRequested condition says why.)
local actions = {}
local state = nil
if obj.status ~= nil then
  state = obj.status.state
end
local final = state == "Succeeded" or state == "Failed" or state == "Cancelled"
local asked = obj.spec ~= nil and obj.spec.cancel == true
actions["cancel"] = {["iconClass"] = "fa fa-fw fa-stop", ["disabled"] = final or asked}
return actions
