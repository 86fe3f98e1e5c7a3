{{/* Chart name. */}}
{{- define "kuantum.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full name of the release's namespaced objects. */}}
{{- define "kuantum.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Name of the release's cluster-scoped objects (ClusterRole, ClusterRoleBinding). A release name is unique
only within its namespace, so the namespace is part of the name: two releases never share (or delete)
each other's cluster-scoped objects.
*/}}
{{- define "kuantum.clusterName" -}}
{{- printf "%s-%s" .Release.Namespace (include "kuantum.fullname" .) | trunc 253 | trimSuffix "-" }}
{{- end }}

{{- define "kuantum.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "kuantum.selectorLabels" -}}
app.kubernetes.io/name: {{ include "kuantum.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "kuantum.labels" -}}
helm.sh/chart: {{ include "kuantum.chart" . }}
{{ include "kuantum.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/component: operator
app.kubernetes.io/part-of: kuantum
{{- end }}

{{- define "kuantum.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "kuantum.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "kuantum.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{- define "kuantum.solverImage" -}}
{{- printf "%s:%s" .Values.solverImage.repository (default .Chart.AppVersion .Values.solverImage.tag) }}
{{- end }}

{{/*
What the operator does inside a namespace it watches, verb by verb (see operator/kuantum/runtime/writer.py,
controller.py and main.py). No wildcards.
*/}}
{{- define "kuantum.namespacedRules" -}}
# QuantumJobs: watched (Kopf + the controller's initial listing); metadata patched (finalizer, labels,
# accepted-spec annotation); deleted after ttlSecondsAfterFinished.
- apiGroups: ["kuantum.dev"]
  resources: ["quantumjobs"]
  verbs: ["list", "watch", "patch", "delete"]
# Workspaces are read, and get the operator's finalizer (deleting one cancels its jobs first); the
# operator creates each workspace's microsoft-qio Provider.
- apiGroups: ["kuantum.dev"]
  resources: ["quantumworkspaces"]
  verbs: ["list", "watch", "patch"]
- apiGroups: ["kuantum.dev"]
  resources: ["providers"]
  verbs: ["list", "watch", "create"]
# Sessions are read (their jobs join and follow them); the operator writes only their status.
- apiGroups: ["kuantum.dev"]
  resources: ["quantumsessions"]
  verbs: ["list", "watch"]
- apiGroups: ["kuantum.dev"]
  resources: ["quantumjobs/status", "quantumworkspaces/status", "providers/status", "quantumsessions/status"]
  verbs: ["patch"]
# Children carry ownerReferences with blockOwnerDeletion; clusters running the
# OwnerReferencesPermissionEnforcement admission plugin require this to set them.
- apiGroups: ["kuantum.dev"]
  resources: ["quantumjobs/finalizers", "quantumworkspaces/finalizers"]
  verbs: ["update"]
# Solver/simulator batch Jobs.
- apiGroups: ["batch"]
  resources: ["jobs"]
  verbs: ["get", "list", "watch", "create", "delete"]
# Solver pods are observed (their phase and exit code), and deleted when a cancelled job's solver Job is
# already gone but its pod runs on; with a solver pool (solverPool.size > 0) its workers are created, and deleted
# once idle.
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["list", "watch", {{ if gt (int .Values.solverPool.size) 0 }}"create", {{ end }}"delete"]
# A finished solver pod's log is read once and kept in the job's container (status.logsUri).
- apiGroups: [""]
  resources: ["pods/log"]
  verbs: ["get"]
# Storage connection strings and job inputs are read; each job's SAS Secret is created and deleted.
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["get", "create", "delete"]
# Job inputs by configMapKeyRef.
- apiGroups: [""]
  resources: ["configmaps"]
  verbs: ["get"]
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create", "list"]  # list: a restarted operator checks recently finished jobs for their final Event
{{- end }}

{{/* Cluster-scoped reads of Kopf's discovery: which CRDs exist, which namespaces exist. */}}
{{- define "kuantum.clusterRules" -}}
- apiGroups: ["apiextensions.k8s.io"]
  resources: ["customresourcedefinitions"]
  verbs: ["list", "watch"]
- apiGroups: [""]
  resources: ["namespaces"]
  verbs: ["list", "watch"]
{{- end }}

{{/*
More than one replica: leader election over a coordination.k8s.io Lease (--leader-elect); exactly one
replica reconciles, the others keep their caches warm and take over when its Lease expires.
*/}}
{{- define "kuantum.leaderElection" -}}
{{- if gt (int .Values.replicas) 1 }}true{{ end }}
{{- end }}

{{/* The Lease's name (in the release's namespace): one per release, so two releases never share a leader. */}}
{{- define "kuantum.leaseName" -}}
{{- default (include "kuantum.fullname" .) .Values.leaderElection.leaseName | trunc 253 | trimSuffix "-" }}
{{- end }}

{{/* The webhook's Service, and the host name the API server is given (--webhook-host). */}}
{{- define "kuantum.webhookServiceName" -}}
{{- printf "%s-webhook" (include "kuantum.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "kuantum.webhookHost" -}}
{{- printf "%s.%s.svc" (include "kuantum.webhookServiceName" .) .Release.Namespace }}
{{- end }}

{{/*
The webhook configurations Kopf manages (settings.admission.managed), passed to the operator as
--webhook-config-name: "<fullname>.<release namespace>.kuantum.dev". They are cluster-scoped, so the
name is the release's own: two releases never patch (or dry-run over) each other's. The chart creates
them empty (so helm uninstall deletes them) and lets the operator patch only these.
*/}}
{{- define "kuantum.webhookConfigName" -}}
{{- printf "%s.%s.kuantum.dev" (include "kuantum.fullname" .) .Release.Namespace | trunc 253 }}
{{- end }}

{{/*
The Secret holding the webhook's certificate, or "" when the operator generates its own (one replica).
Several replicas must share one certificate: each would otherwise put its own into the configuration's caBundle.
*/}}
{{- define "kuantum.webhookCertSecret" -}}
{{- if .Values.webhook.enabled }}
{{- if .Values.webhook.certSecret }}
{{- .Values.webhook.certSecret }}
{{- else if include "kuantum.leaderElection" . }}
{{- printf "%s-webhook-tls" (include "kuantum.fullname" .) | trunc 253 }}
{{- end }}
{{- end }}
{{- end }}
