package prepull

import (
	"context"
	"errors"
	"fmt"
	"sort"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// CleanupResult lists what Cleanup removed.
type CleanupResult struct {
	Namespaces []string `json:"namespaces"`
	DaemonSets []string `json:"daemonSets"`
	Pods       int      `json:"pods"`
}

// Empty reports whether nothing was found.
func (c *CleanupResult) Empty() bool {
	return len(c.Namespaces) == 0 && len(c.DaemonSets) == 0 && c.Pods == 0
}

// Cleanup removes what confrun prepull runs left in namespace: the
// namespace itself when confrun created it, else confrun's DaemonSets and
// pods in it (found by their labels). With namespace "" it sweeps the
// whole cluster: every namespace confrun created, and its DaemonSets and
// pods anywhere else. With wait it returns once they are gone.
func Cleanup(ctx context.Context, client kubernetes.Interface, namespace string, wait bool) (*CleanupResult, error) {
	res := &CleanupResult{}
	sel := metav1.ListOptions{LabelSelector: ownSelector()}
	var nss *corev1.NamespaceList
	scope := metav1.NamespaceAll
	if namespace == "" {
		var err error
		if nss, err = client.CoreV1().Namespaces().List(ctx, sel); err != nil {
			return res, fmt.Errorf("listing confrun's namespaces: %w", err)
		}
	} else {
		scope = namespace
		nss = &corev1.NamespaceList{}
		ns, err := client.CoreV1().Namespaces().Get(ctx, namespace, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			return res, nil
		case err != nil:
			return res, fmt.Errorf("reading namespace %s: %w", namespace, err)
		case ns.Labels[LabelManagedBy] == ManagedBy && ns.Labels[LabelComponent] == Component:
			nss.Items = append(nss.Items, *ns)
		}
	}
	ours := map[string]bool{}
	for _, ns := range nss.Items {
		ours[ns.Name] = true
		res.Namespaces = append(res.Namespaces, ns.Name)
	}
	dss, err := client.AppsV1().DaemonSets(scope).List(ctx, sel)
	if err != nil {
		return res, fmt.Errorf("listing confrun's DaemonSets: %w", err)
	}
	pods, err := client.CoreV1().Pods(scope).List(ctx, sel)
	if err != nil {
		return res, fmt.Errorf("listing confrun's pods: %w", err)
	}
	// Workloads go first, in confrun's namespaces too: the namespace
	// controller retries a namespace with content left with a growing
	// back-off, and a DaemonSet recreates pods deleted before it.
	withWork := map[string]bool{}
	for _, ds := range dss.Items {
		withWork[ds.Namespace] = true
		if !ours[ds.Namespace] {
			res.DaemonSets = append(res.DaemonSets, ds.Namespace+"/"+ds.Name)
		}
	}
	for _, p := range pods.Items {
		withWork[p.Namespace] = true
		if !ours[p.Namespace] {
			res.Pods++
		}
	}
	for _, ns := range sortedKeys(withWork) {
		if err := deleteOwnWorkloads(ctx, client, ns); err != nil {
			return res, err
		}
	}
	if wait && len(withWork) > 0 {
		if err := waitPodsGone(ctx, client, scope, ownSelector()); err != nil {
			return res, err
		}
	}
	for _, ns := range nss.Items {
		if ns.DeletionTimestamp != nil {
			continue
		}
		if err := client.CoreV1().Namespaces().Delete(ctx, ns.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return res, fmt.Errorf("deleting namespace %s: %w", ns.Name, err)
		}
	}
	sort.Strings(res.Namespaces)
	sort.Strings(res.DaemonSets)
	if !wait {
		return res, nil
	}
	return res, waitNamespacesGone(ctx, client, res.Namespaces)
}

// CleanupRun removes what one run created: the namespace when it is
// confrun's, else only the run's DaemonSet and pods; it waits until they
// are gone.
func CleanupRun(ctx context.Context, client kubernetes.Interface, namespace, runID string) error {
	ns, err := client.CoreV1().Namespaces().Get(ctx, namespace, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading namespace %s: %w", namespace, err)
	}
	if ns.Labels[LabelManagedBy] == ManagedBy && ns.Labels[LabelComponent] == Component {
		// The DaemonSet and pods first, and wait for them: the namespace
		// controller retries a namespace with content left with a growing
		// back-off (tens of seconds), and the DaemonSet controller would
		// recreate pods it deleted before the DaemonSet.
		if err := deleteWorkloads(ctx, client, namespace, runSelector(runID)); err != nil {
			return err
		}
		if err := waitPodsGone(ctx, client, namespace, runSelector(runID)); err != nil {
			return err
		}
		if ns.DeletionTimestamp == nil {
			if err := client.CoreV1().Namespaces().Delete(ctx, namespace, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
				return fmt.Errorf("deleting namespace %s: %w", namespace, err)
			}
		}
		return waitNamespacesGone(ctx, client, []string{namespace})
	}
	if err := deleteWorkloads(ctx, client, namespace, runSelector(runID)); err != nil {
		return err
	}
	return waitPodsGone(ctx, client, namespace, runSelector(runID))
}

// deleteOwnWorkloads deletes confrun's DaemonSets and pods in namespace.
func deleteOwnWorkloads(ctx context.Context, client kubernetes.Interface, namespace string) error {
	return deleteWorkloads(ctx, client, namespace, ownSelector())
}

// deleteWorkloads deletes the DaemonSets and pods in namespace that match selector.
func deleteWorkloads(ctx context.Context, client kubernetes.Interface, namespace, selector string) error {
	sel := metav1.ListOptions{LabelSelector: selector}
	bg := metav1.DeletePropagationBackground
	del := metav1.DeleteOptions{PropagationPolicy: &bg}
	if err := client.AppsV1().DaemonSets(namespace).DeleteCollection(ctx, del, sel); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting confrun's DaemonSets in %s: %w", namespace, err)
	}
	if err := client.CoreV1().Pods(namespace).DeleteCollection(ctx, del, sel); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting confrun's pods in %s: %w", namespace, err)
	}
	return nil
}

// waitNamespacesGone watches namespaces until none of names exists.
func waitNamespacesGone(ctx context.Context, client kubernetes.Interface, names []string) error {
	if len(names) == 0 {
		return nil
	}
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	f := informers.NewSharedInformerFactory(client, 0)
	inf := f.Core().V1().Namespaces().Informer()
	return waitUntil(ctx, f, inf, func() bool {
		for _, o := range inf.GetStore().List() {
			if want[o.(*corev1.Namespace).Name] {
				return false
			}
		}
		return true
	}, fmt.Sprintf("namespaces %v to be deleted", names))
}

// waitPodsGone watches the pods matching selector in namespace (all: "")
// until none is left.
func waitPodsGone(ctx context.Context, client kubernetes.Interface, namespace, selector string) error {
	f := informers.NewSharedInformerFactoryWithOptions(client, 0, informers.WithNamespace(namespace),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = selector }))
	inf := f.Core().V1().Pods().Informer()
	return waitUntil(ctx, f, inf, func() bool { return len(inf.GetStore().List()) == 0 }, "confrun's pods to be deleted")
}

// waitUntil runs the informer until cond holds, re-checking on every event.
func waitUntil(ctx context.Context, f informers.SharedInformerFactory, inf cache.SharedIndexInformer, cond func() bool, what string) error {
	changed := make(chan struct{}, 1)
	kick := func() {
		select {
		case changed <- struct{}{}:
		default:
		}
	}
	if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(any) { kick() }, UpdateFunc: func(any, any) { kick() }, DeleteFunc: func(any) { kick() },
	}); err != nil {
		return err
	}
	stop := make(chan struct{})
	defer func() {
		close(stop)
		f.Shutdown()
	}()
	f.Start(stop)
	if !cache.WaitForCacheSync(ctx.Done(), inf.HasSynced) {
		return fmt.Errorf("waiting for %s: %w", what, errors.Join(ctx.Err(), context.Cause(ctx)))
	}
	for !cond() {
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w", what, ctx.Err())
		case <-changed:
		}
	}
	return nil
}

func sortedStrings(s []string) []string {
	out := append([]string(nil), s...)
	sort.Strings(out)
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
