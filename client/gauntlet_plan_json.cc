// The gauntlet plan as JSON (--dry-run --json). Built as a google.protobuf.Struct so the
// quoting and escaping are protobuf's, not ours.
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

#include "client/gauntlet_plan.h"

namespace ktstr::client {
namespace {

using google::protobuf::ListValue;
using google::protobuf::Struct;
using google::protobuf::Value;

void Set(Struct* s, const std::string& key, const std::string& v) {
  (*s->mutable_fields())[key].set_string_value(v);
}
void Set(Struct* s, const std::string& key, double v) {
  (*s->mutable_fields())[key].set_number_value(v);
}
Struct* SetStruct(Struct* s, const std::string& key) {
  return (*s->mutable_fields())[key].mutable_struct_value();
}
ListValue* SetList(Struct* s, const std::string& key) {
  return (*s->mutable_fields())[key].mutable_list_value();
}
void AddStrings(ListValue* l, const std::vector<std::string>& v) {
  for (const std::string& x : v) l->add_values()->set_string_value(x);
}

}  // namespace

std::string FormatPlanJson(const GauntletPlan& plan, const std::vector<GauntletBinary>& binaries,
                           const GauntletSelection& sel) {
  Struct root;
  Set(&root, "vcpu_cap", sel.max_vcpus);
  ListValue* variants = SetList(&root, "variants");
  for (const GauntletVariant& v : plan.variants) {
    Struct* j = variants->add_values()->mutable_struct_value();
    Set(j, "name", v.Name(plan.several_kernels));
    Set(j, "binary", binaries[v.binary].path);
    Set(j, "test", v.test->name());
    Set(j, "preset", v.preset);
    Struct* t = SetStruct(j, "topology");
    Set(t, "numa_nodes", v.topology.numa_nodes());
    Set(t, "llcs", v.topology.llcs());
    Set(t, "cores_per_llc", v.topology.cores_per_llc());
    Set(t, "threads_per_core", v.topology.threads_per_core());
    Set(j, "vcpus", static_cast<double>(v.topology.numa_nodes()) * v.topology.llcs() *
                        v.topology.cores_per_llc() * v.topology.threads_per_core());
    Set(j, "profile", v.profile_name());
    Set(j, "kernel", v.kernel);
  }
  Struct* over_cap = SetStruct(&root, "over_cap");
  AddStrings(SetList(over_cap, "presets"), plan.over_cap);
  Set(over_cap, "variants", static_cast<double>(plan.over_cap_variants));
  ListValue* skips = SetList(&root, "constraint_skips");
  for (const GauntletSkip& s : plan.constraint_skips) {
    Struct* j = skips->add_values()->mutable_struct_value();
    Set(j, "test", s.test);
    Set(j, "preset", s.preset);
    Set(j, "reason", s.reason);
  }
  AddStrings(SetList(&root, "host_only"), plan.host_only);
  std::string out;
  google::protobuf::util::JsonPrintOptions o;
  o.add_whitespace = true;
  // A Struct built here always prints; an error would be a protobuf bug.
  (void)google::protobuf::util::MessageToJsonString(root, &out, o);
  return out;
}

}  // namespace ktstr::client
