#include "client/upload.h"

#include <sys/stat.h>

#include <cstdio>

#include "absl/strings/str_cat.h"
#include "client/closure.h"
#include "client/connection.h"
#include "daemon/artifact_store.h"

namespace ktstr::client {

absl::StatusOr<UploadResult> UploadFile(ktstr::v1::Ktstrd::Stub* stub, const std::string& path,
                                        ktstr::v1::ArtifactKind kind) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return absl::NotFoundError(absl::StrCat(path, ": no such file"));
  }
  absl::StatusOr<std::string> sha = daemon::Sha256OfFile(path);
  if (!sha.ok()) return sha.status();
  UploadResult out;
  out.ref.set_sha256(*sha);
  out.ref.set_size_bytes(st.st_size);

  ktstr::v1::StatArtifactRequest sreq;
  sreq.set_sha256(*sha);
  ktstr::v1::StatArtifactResponse sresp;
  if (absl::Status s = FromGrpc(stub->StatArtifact(ContextWithDeadline().get(), sreq, &sresp));
      !s.ok()) {
    return s;
  }
  if (sresp.present()) {
    out.already_present = true;
    return out;
  }

  auto ctx = ContextWithDeadline(absl::Minutes(10));
  ktstr::v1::UploadArtifactResponse resp;
  std::unique_ptr<grpc::ClientWriter<ktstr::v1::UploadArtifactRequest>> w =
      stub->UploadArtifact(ctx.get(), &resp);
  ktstr::v1::UploadArtifactRequest req;
  auto* h = req.mutable_header();
  h->set_kind(kind);
  h->set_sha256(*sha);
  h->set_size_bytes(st.st_size);
  h->set_name(path.substr(path.rfind('/') + 1));
  bool ok = w->Write(req);
  FILE* f = fopen(path.c_str(), "rb");
  if (f == nullptr) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::string buf(1 << 20, '\0');
  size_t n;
  while (ok && (n = fread(buf.data(), 1, buf.size(), f)) > 0) {
    req.Clear();
    req.set_chunk(buf.data(), n);
    ok = w->Write(req);  // false once the daemon answered early (known digest) or failed
  }
  fclose(f);
  w->WritesDone();
  if (absl::Status s = FromGrpc(w->Finish()); !s.ok()) {
    return absl::Status(s.code(), absl::StrCat("uploading ", path, ": ", s.message()));
  }
  out.already_present = resp.already_present();
  return out;
}

absl::StatusOr<std::vector<ktstr::v1::GuestFile>> UploadSharedLibraries(
    ktstr::v1::Ktstrd::Stub* stub, const std::string& binary) {
  absl::StatusOr<std::vector<std::string>> libs = SharedLibraryClosure(binary);
  if (!libs.ok()) return libs.status();
  std::vector<ktstr::v1::GuestFile> files;
  for (const std::string& lib : *libs) {
    absl::StatusOr<UploadResult> l = UploadFile(stub, lib, ktstr::v1::ARTIFACT_KIND_SHARED_LIBRARY);
    if (!l.ok()) return l.status();
    ktstr::v1::GuestFile f;
    *f.mutable_artifact() = l->ref;
    f.set_guest_path(lib);
    f.set_mode(0755);
    files.push_back(std::move(f));
  }
  return files;
}

}  // namespace ktstr::client
