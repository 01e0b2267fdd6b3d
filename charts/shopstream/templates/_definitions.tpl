{{/* Names, labels and the parts every pod shares. */}}

{{- define "shopstream.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "shopstream.selectorLabels" -}}
app.kubernetes.io/name: {{ .root.Chart.Name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "shopstream.labels" -}}
{{ include "shopstream.selectorLabels" . }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/part-of: shopstream
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version }}
{{- end -}}

{{- define "shopstream.image" -}}
{{ printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end -}}

{{/* The settings every process reads (SHOPSTREAM_*), as a container's env list. */}}
{{- define "shopstream.env" -}}
- name: SHOPSTREAM_ENVIRONMENT
  value: {{ .Values.config.environment | quote }}
- name: SHOPSTREAM_LOG_LEVEL
  value: {{ .Values.config.logLevel | quote }}
- name: SHOPSTREAM_AWS_REGION
  value: {{ .Values.config.awsRegion | quote }}
- name: AWS_DEFAULT_REGION
  value: {{ .Values.config.awsRegion | quote }}
- name: SHOPSTREAM_KAFKA_BOOTSTRAP_SERVERS
  value: {{ .Values.config.kafkaBootstrapServers | quote }}
- name: SHOPSTREAM_TOPIC_PARTITIONS
  value: {{ .Values.config.topicPartitions | quote }}
- name: SHOPSTREAM_TOPIC_REPLICATION_FACTOR
  value: {{ .Values.config.topicReplicationFactor | quote }}
- name: SHOPSTREAM_TOPIC_PREFIX
  value: {{ .Values.config.topicPrefix | quote }}
- name: SHOPSTREAM_MQTT_HOST
  value: {{ .Values.config.mqttHost | quote }}
- name: SHOPSTREAM_MQTT_PORT
  value: {{ .Values.config.mqttPort | quote }}
- name: SHOPSTREAM_SMTP_HOST
  value: {{ .Values.config.smtpHost | quote }}
- name: SHOPSTREAM_SMTP_PORT
  value: {{ .Values.config.smtpPort | quote }}
{{- range $name, $value := .Values.config.extra }}
- name: {{ printf "SHOPSTREAM_%s" (upper $name) }}
  value: {{ $value | quote }}
{{- end }}
{{- end -}}

{{- define "shopstream.envFrom" -}}
- secretRef:
    name: {{ .Values.existingSecret }}
{{- end -}}

{{/* A ServiceAccount, with its IAM role (IRSA) when one is given. */}}
{{- define "shopstream.serviceAccount" -}}
apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{ include "shopstream.fullname" .root }}-{{ .component }}
  labels:
    {{- include "shopstream.labels" . | nindent 4 }}
  {{- with .account.roleArn }}
  annotations:
    eks.amazonaws.com/role-arn: {{ . | quote }}
  {{- end }}
automountServiceAccountToken: {{ .token | default false }}
{{- end -}}

{{/* Pod-level parts every workload shares. */}}
{{- define "shopstream.podSpec" -}}
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* A PodDisruptionBudget for a component. */}}
{{- define "shopstream.pdb" -}}
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ include "shopstream.fullname" .root }}-{{ .component }}
  labels:
    {{- include "shopstream.labels" . | nindent 4 }}
spec:
  maxUnavailable: {{ .pdb.maxUnavailable }}
  selector:
    matchLabels:
      {{- include "shopstream.selectorLabels" . | nindent 6 }}
{{- end -}}

{{/* Up at once, down one pod per five minutes after a long calm. */}}
{{- define "shopstream.slowScaleDown" -}}
scaleDown:
  stabilizationWindowSeconds: {{ .Values.keda.scaleDownStabilizationSeconds }}
  policies:
    - type: Pods
      value: 1
      periodSeconds: 300
scaleUp:
  stabilizationWindowSeconds: 0
  policies:
    - type: Pods
      value: 2
      periodSeconds: 60
{{- end -}}
