package prepull

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/confrun/confrun/internal/prepull/nodepull"
)

// Labels on everything confrun prepull creates; --cleanup finds leftovers
// by them.
const (
	LabelManagedBy = "app.kubernetes.io/managed-by"
	ManagedBy      = "confrun"
	LabelComponent = "confrun.dev/component"
	Component      = "prepull"
	// LabelRun holds the run's ID, so a run never mistakes an earlier
	// run's pods for its own.
	LabelRun = "confrun.dev/run"
	// LabelNode is set on node-mode pods.
	LabelNode = "confrun.dev/node"
	// LabelGroup numbers the DaemonSets of a pod-mode run.
	LabelGroup = "confrun.dev/group"
	// AnnotationImages maps container names to images on a pod-mode pod.
	AnnotationImages = "confrun.dev/images"

	// DefaultNamespace is where prepull works unless told otherwise.
	DefaultNamespace = "confrun-prepull"

	// helperMount is where the init container copies the helper binary.
	helperMount = "/confrun-shared"
	// helperInImage is the helper binary's path in the helper image.
	helperInImage = "/confrun"
	// helperUID is the unprivileged user pod-mode containers run as.
	helperUID = 65532
)

// ownLabels are the labels of every object of a run.
func ownLabels(runID string) map[string]string {
	l := map[string]string{LabelManagedBy: ManagedBy, LabelComponent: Component}
	if runID != "" {
		l[LabelRun] = runID
	}
	return l
}

// ownSelector selects every object confrun prepull created (any run).
func ownSelector() string {
	return LabelManagedBy + "=" + ManagedBy + "," + LabelComponent + "=" + Component
}

// runSelector selects the objects of one run.
func runSelector(runID string) string { return ownSelector() + "," + LabelRun + "=" + runID }

// namespaceObject is prepull's namespace, labelled for Pod Security
// admission: restricted in pod mode (the pods are built to meet it, and the
// namespace proves it), privileged in node mode.
func namespaceObject(name string, privileged bool) *corev1.Namespace {
	level := "restricted"
	if privileged {
		level = "privileged"
	}
	l := ownLabels("")
	l["pod-security.kubernetes.io/enforce"] = level
	l["pod-security.kubernetes.io/warn"] = level
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: l}}
}

func ptr[T any](v T) *T { return &v }

// smallResources keeps 40 containers per node cheap: the scheduler adds
// the requests of every container of the pod.
func smallResources() corev1.ResourceRequirements {
	return corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1m"), corev1.ResourceMemory: resource.MustParse("8Mi")},
		Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("64Mi")},
	}
}

// restrictedContext meets the restricted Pod Security profile.
func restrictedContext() *corev1.SecurityContext {
	return &corev1.SecurityContext{
		AllowPrivilegeEscalation: ptr(false),
		ReadOnlyRootFilesystem:   ptr(true),
		RunAsNonRoot:             ptr(true),
		RunAsUser:                ptr(int64(helperUID)),
		RunAsGroup:               ptr(int64(helperUID)),
		Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
		SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	}
}

// ImagesPerPod bounds the images of one pod-mode pod. The kubelet sends at
// most 25 events per pod in a burst (client-go's spam filter: then one per
// 5 minutes), and each image costs up to four (Pulling, Pulled, Created,
// Started) plus three for the helper's init container: beyond five images
// the Pulled events, which carry each pull's time and size, are dropped.
const ImagesPerPod = 5

// PodModeSpec is the input of one pod-mode DaemonSet.
type PodModeSpec struct {
	Namespace string
	RunID     string
	// Group numbers the DaemonSet within the run (ImagesPerPod each).
	Group       int
	HelperImage string
	Images      []PlanImage
	// Nodes are the names of the nodes the pods go to.
	Nodes []string
	// TolerateAll lets the pods onto tainted nodes.
	TolerateAll bool
}

// DaemonSet builds the pod-mode DaemonSet: one pod per node with one
// container per image (imagePullPolicy IfNotPresent), each running the
// helper binary that an init container copied from the helper image into
// an emptyDir, so that no image needs a shell or a usable entrypoint.
func DaemonSet(s PodModeSpec) *appsv1.DaemonSet {
	labels := ownLabels(s.RunID)
	group := strconv.Itoa(s.Group)
	labels[LabelGroup] = group
	mapping := map[string]string{}
	shared := corev1.VolumeMount{Name: "confrun-shared", MountPath: helperMount}
	sharedRO := shared
	sharedRO.ReadOnly = true
	var containers []corev1.Container
	for i, im := range s.Images {
		name := containerName(i)
		mapping[name] = im.Target
		containers = append(containers, corev1.Container{
			Name:                     name,
			Image:                    im.Target,
			ImagePullPolicy:          corev1.PullIfNotPresent,
			Command:                  []string{helperMount + "/confrun", "helper", "sleep"},
			VolumeMounts:             []corev1.VolumeMount{sharedRO},
			Resources:                smallResources(),
			SecurityContext:          restrictedContext(),
			TerminationMessagePolicy: corev1.TerminationMessageReadFile,
		})
	}
	ann, _ := json.Marshal(mapping)
	// A metadata.name field selector takes one value per term; terms OR.
	var terms []corev1.NodeSelectorTerm
	for _, n := range s.Nodes {
		terms = append(terms, corev1.NodeSelectorTerm{MatchFields: []corev1.NodeSelectorRequirement{
			{Key: "metadata.name", Operator: corev1.NodeSelectorOpIn, Values: []string{n}}}})
	}
	pod := corev1.PodSpec{
		Affinity: &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
			RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: terms},
		}},
		AutomountServiceAccountToken:  ptr(false),
		EnableServiceLinks:            ptr(false),
		TerminationGracePeriodSeconds: ptr(int64(2)),
		SecurityContext: &corev1.PodSecurityContext{
			RunAsNonRoot:   ptr(true),
			RunAsUser:      ptr(int64(helperUID)),
			RunAsGroup:     ptr(int64(helperUID)),
			SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
		},
		InitContainers: []corev1.Container{{
			Name:            "install-helper",
			Image:           s.HelperImage,
			ImagePullPolicy: corev1.PullIfNotPresent,
			Command:         []string{helperInImage, "helper", "install", helperMount},
			VolumeMounts:    []corev1.VolumeMount{shared},
			Resources:       smallResources(),
			SecurityContext: restrictedContext(),
		}},
		Containers: containers,
		Volumes: []corev1.Volume{{Name: "confrun-shared", VolumeSource: corev1.VolumeSource{
			EmptyDir: &corev1.EmptyDirVolumeSource{SizeLimit: ptr(resource.MustParse("256Mi"))},
		}}},
	}
	if s.TolerateAll {
		pod.Tolerations = []corev1.Toleration{{Operator: corev1.TolerationOpExists}}
	}
	return &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: dsName(s.RunID, group), Namespace: s.Namespace, Labels: labels},
		Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{LabelComponent: Component, LabelRun: s.RunID, LabelGroup: group}},
			UpdateStrategy: appsv1.DaemonSetUpdateStrategy{Type: appsv1.RollingUpdateDaemonSetStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDaemonSet{MaxUnavailable: ptr(intstr.FromString("100%"))}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels, Annotations: map[string]string{AnnotationImages: string(ann)}},
				Spec:       pod,
			},
		},
	}
}

// NodeModeSpec is the input of one node-mode pod.
type NodeModeSpec struct {
	Namespace   string
	RunID       string
	HelperImage string
	Node        string
	// Socket is the path of the node's containerd socket on the host.
	Socket string
	// ContainerdNamespace is the CRI plugin's namespace (k8s.io).
	ContainerdNamespace string
	// Platform is the node's platform, linux/<arch>.
	Platform string
	Images   []nodepull.Image
	// CheckOnly makes the pod only report which images are there.
	CheckOnly bool
}

// NodePod builds the privileged pod that places the images on one node
// through its containerd socket. It must be privileged: the socket is
// root's, mounted from the host, and whoever holds it controls every
// container on the node (and SELinux hosts label it so that only
// privileged containers may connect).
func NodePod(s NodeModeSpec) *corev1.Pod {
	imgs, _ := json.Marshal(s.Images)
	args := []string{helperInImage, "helper", "node-pull", "--address", s.Socket, "--namespace", s.ContainerdNamespace,
		"--platform", s.Platform, "--images-json", string(imgs)}
	if s.CheckOnly {
		args = append(args, "--check")
	}
	labels := ownLabels(s.RunID)
	labels[LabelNode] = labelValue(s.Node)
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: nodePodName(s.RunID, s.Node, s.CheckOnly), Namespace: s.Namespace, Labels: labels},
		Spec: corev1.PodSpec{
			NodeName:                      s.Node,
			RestartPolicy:                 corev1.RestartPolicyNever,
			AutomountServiceAccountToken:  ptr(false),
			EnableServiceLinks:            ptr(false),
			TerminationGracePeriodSeconds: ptr(int64(5)),
			Tolerations:                   []corev1.Toleration{{Operator: corev1.TolerationOpExists}},
			Containers: []corev1.Container{{
				Name:                     "node-pull",
				Image:                    s.HelperImage,
				ImagePullPolicy:          corev1.PullIfNotPresent,
				Command:                  args,
				VolumeMounts:             []corev1.VolumeMount{{Name: "containerd-socket", MountPath: s.Socket}},
				TerminationMessagePolicy: corev1.TerminationMessageReadFile,
				Resources: corev1.ResourceRequirements{
					Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("10m"), corev1.ResourceMemory: resource.MustParse("32Mi")},
					Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("256Mi")},
				},
				SecurityContext: &corev1.SecurityContext{Privileged: ptr(true), RunAsUser: ptr(int64(0))},
			}},
			Volumes: []corev1.Volume{{Name: "containerd-socket", VolumeSource: corev1.VolumeSource{
				HostPath: &corev1.HostPathVolumeSource{Path: s.Socket, Type: ptr(corev1.HostPathSocket)},
			}}},
		},
	}
}

// nodePodName is a valid, unique pod name for a node's pod.
func nodePodName(runID, node string, check bool) string {
	kind := "node"
	if check {
		kind = "check"
	}
	h := sha256.Sum256([]byte(node))
	short := strings.Trim(strings.ToLower(node), "-.")
	if len(short) > 40 {
		short = strings.Trim(short[:40], "-.")
	}
	return fmt.Sprintf("prepull-%s-%s-%s-%s", runID, kind, short, hex.EncodeToString(h[:3]))
}

// labelValue makes a node name fit a label value (63 characters).
func labelValue(s string) string {
	if len(s) <= 63 {
		return s
	}
	h := sha256.Sum256([]byte(s))
	return strings.Trim(s[:50], "-._") + "-" + hex.EncodeToString(h[:4])
}
