package list

import "sort"

func sortSubscriptions(subs []Subscription) {
	sort.Slice(subs, func(i, j int) bool { return subs[i].List < subs[j].List })
}
