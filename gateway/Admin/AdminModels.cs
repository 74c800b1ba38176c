using System.Text.Json.Serialization;
using CmpCluster.Contracts;

namespace CmpCluster.Gateway.Admin;

// The JSON shapes of /api/v1 (camelCase, enums as strings). They are the API's contract, kept apart from the grain
// records so the wire format can stay stable while the contracts evolve. No response shape has an enrollment code.

/// <summary>POST /api/v1/end-entities and one item of a bulk request.</summary>
public sealed record EndEntityRequest(
    string? Username,
    string? SubjectDn,
    string[]? SubjectAltNames,
    string? Ca,
    string? CertificateProfile,
    string? EndEntityProfile,
    string? EnrollmentCode);

/// <summary>PUT /api/v1/end-entities/{username}: a missing enrollment code keeps the current one.</summary>
public sealed record EndEntityUpdateRequest(
    string? SubjectDn,
    string[]? SubjectAltNames,
    string? Ca,
    string? CertificateProfile,
    string? EndEntityProfile,
    string? EnrollmentCode);

/// <summary>POST /api/v1/end-entities/{username}/reset.</summary>
public sealed record ResetRequest(string? EnrollmentCode);

/// <summary>POST /api/v1/end-entities/bulk: at most 10 000 items (the admin grain's limit).</summary>
public sealed record BulkRequest(EndEntityRequest[]? EndEntities, bool? Replace);

public sealed record BulkResponse(int Created, int Replaced, int Existing, int Invalid, IReadOnlyList<BulkItemError> Errors);

public sealed record BulkItemError(int Index, string? Username, string Field, string Message);

public sealed record EndEntityResponse(
    string Username,
    string SubjectDn,
    IReadOnlyList<string> SubjectAltNames,
    string Ca,
    string CertificateProfile,
    string EndEntityProfile,
    EndEntityStatus Status,
    IReadOnlyList<string> Certificates,
    DateTimeOffset Created,
    DateTimeOffset Modified,
    bool EnrollmentOpen)
{
    public static EndEntityResponse From(EndEntityView view) => new(
        view.Username, view.SubjectDn, view.SubjectAltNames, view.Ca, view.CertificateProfile, view.EndEntityProfile,
        view.Status, view.CertificateKeys, view.Created, view.Modified, view.EnrollmentOpen);
}

/// <summary>POST /api/v1/cas: a new root and issuing CA, or (<c>issuedBy</c>) an issuing CA under that CA's root.</summary>
public sealed record CaCreateRequest(
    string? Name,
    string? KeyAlgorithm,
    string? RootSubject,
    string? IssuingSubject,
    string? CmpSignerSubject,
    string? OcspSignerSubject,
    string? IssuedBy);

/// <summary>POST /api/v1/cas/import: the CA certificate then its root (PEM) and the CA key (one of keyPem, keyFile, pkcs11KeyLabel).</summary>
public sealed record CaImportRequest(
    string? Name,
    string? CertificateChain,
    string? KeyPem,
    string? KeyFile,
    string? KeyPassphrase,
    string? Pkcs11Token,
    string? Pkcs11KeyLabel,
    string? CmpSignerSubject,
    string? OcspSignerSubject)
{
    /// <summary>Never the passphrase or the key, should the request be logged.</summary>
    public override string ToString() => $"CaImportRequest {{ Name = {Name} }}";
}

public sealed record CaLinks(string Certificate, string CertificateDer, string Chain);

/// <summary>A CA as the admin API shows it; <c>enabled</c> false: it issues no new certificates (POST /cas/{name}/enable);
/// <c>origin</c>: <c>settings</c> (Pki:CaName, Pki:Cas), <c>created</c> or <c>imported</c> (POST /cas, POST /cas/import);
/// <c>retiredKeys</c>, only after a renewal with a new key: the earlier keys still answering for their certificates.</summary>
public sealed record CaResponse(string Name, string SubjectDn, DateTimeOffset NotAfter, bool Enabled, CaLinks Links, string Origin,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] RetiredKeyResponse[]? RetiredKeys = null);

/// <summary>A CA's retired key (<c>pki renew-ca --new-key</c>): its generation, its key identifier (the authorityKeyIdentifier
/// of the certificates it signed), until when it signs their CRL and OCSP answers, and where that CRL is.</summary>
public sealed record RetiredKeyResponse(int Generation, string SubjectKeyIdentifier, DateTimeOffset NotAfter, string Crl);

public sealed record CertificateResponse(
    string Ca,
    string SerialHex,
    string SubjectDn,
    string Owner,
    CertificateStatus Status,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] RevocationReason? RevocationReason,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] DateTimeOffset? RevokedAt,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? CertificatePem);
