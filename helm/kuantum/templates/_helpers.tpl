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
What the operator does inside a namespace it watches, verb by verb (see operator/kuantum/kubeapi.py,
controller.py and main.py). No wildcards.
*/}}
{{- define "kuantum.namespacedRules" -}}
# QuantumJobs: watched (Kopf + the controller's initial listing); metadata patched (finalizer, labels,
# accepted-spec annotation); deleted after ttlSecondsAfterFinished.
- apiGroups: ["kuantum.dev"]
  resources: ["quantumjobs"]
  verbs: ["list", "watch", "patch", "delete"]
# Workspaces are only read; the operator creates each workspace's microsoft-qio Provider.
- apiGroups: ["kuantum.dev"]
  resources: ["quantumworkspaces"]
  verbs: ["list", "watch"]
- apiGroups: ["kuantum.dev"]
  resources: ["providers"]
  verbs: ["list", "watch", "create"]
- apiGroups: ["kuantum.dev"]
  resources: ["quantumjobs/status", "quantumworkspaces/status", "providers/status"]
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
# Solver pods are only observed (their phase and exit code).
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["list", "watch"]
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
  verbs: ["create"]
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
