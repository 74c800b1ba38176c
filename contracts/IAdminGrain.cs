namespace CmpCluster.Contracts;

/// <summary>
/// Gateway-facing: the admin API's one door into the silos (a stateless worker; key <see cref="GrainKeys.Admin"/>). It owns
/// the admin rules (what a registration may name, which revocation reasons and hold policy apply, who may decide an
/// approval), so a gateway only translates HTTP to these calls and the answers back. <paramref name="actor"/> arguments
/// name who asked (for the audit trail), never a secret.
/// </summary>
[Alias("CmpCluster.IAdminGrain")]
public interface IAdminGrain : IGrainWithStringKey
{
    /// <summary>Registers an end entity (status NEW); with <paramref name="replace"/> an existing one is overwritten.</summary>
    [Alias("RegisterEndEntity")]
    Task<AdminReply<EndEntityView>> RegisterEndEntityAsync(EndEntityInput input, bool replace, string actor);

    [Alias("GetEndEntity")]
    Task<AdminReply<EndEntityView>> GetEndEntityAsync(string username);

    /// <summary>Changes a registration; a null enrollment code keeps the current one.</summary>
    [Alias("UpdateEndEntity")]
    Task<AdminReply<EndEntityView>> UpdateEndEntityAsync(EndEntityInput input, string actor);

    [Alias("DeleteEndEntity")]
    Task<AdminReply<EndEntityView>> DeleteEndEntityAsync(string username, string actor);

    /// <summary>Back to NEW with a new enrollment code (EJBCA: "reset status").</summary>
    [Alias("ResetEndEntity")]
    Task<AdminReply<EndEntityView>> ResetEndEntityAsync(string username, string? enrollmentCode, string actor);

    /// <summary>
    /// A roll-out: every item validated first, the valid ones registered with bounded concurrency. Up to 10 000 items in one
    /// call, so the call may take longer than Orleans' default 30 s response timeout.
    /// </summary>
    [Alias("RegisterBulk")]
    [ResponseTimeout("00:05:00")]
    Task<BulkRegistrationReply> RegisterBulkAsync(IReadOnlyList<EndEntityInput?> items, bool replace, string actor);

    /// <summary>One issued certificate by CA and serial (hex as people copy it: any case, leading zeros).</summary>
    [Alias("GetCertificate")]
    Task<AdminReply<CertificateRecord>> GetCertificateAsync(string ca, string serialHex);

    /// <summary>
    /// Revokes with an RFC 5280 §5.3.1 reason name. certificateHold only where the certificate's profile allows it;
    /// removeFromCRL only for a certificate on hold.
    /// </summary>
    [Alias("RevokeCertificate")]
    Task<AdminReply<CertificateRecord>> RevokeCertificateAsync(string ca, string serialHex, string? reason, DateTimeOffset? invalidityDate, string actor);

    [Alias("IssueCrl")]
    Task<AdminReply<CrlInfo>> IssueCrlAsync(string ca, string actor);

    /// <summary>
    /// Enables or disables a CA for new certificates, on every silo at once and across restarts; CRLs, OCSP and revocation
    /// go on either way. Unknown CA: NotFound.
    /// </summary>
    [Alias("SetCaEnabled")]
    Task<AdminReply<CaInfo>> SetCaEnabledAsync(string ca, bool enabled, string actor);

    /// <summary>
    /// Creates a CA (a new root and issuing CA, or an issuing CA under an existing CA's root) and serves it on every silo
    /// without a restart. Created: the CA; Invalid: the field at fault; Conflict: the name or subject is taken.
    /// </summary>
    [Alias("CreateCa")]
    Task<AdminReply<CaInfo>> CreateCaAsync(CaCreateInput input, string actor);

    /// <summary>Imports an operator's CA (certificate, root, key) and serves it on every silo without a restart; answers as <see cref="CreateCaAsync"/>.</summary>
    [Alias("ImportCa")]
    Task<AdminReply<CaInfo>> ImportCaAsync(CaImportInput input, string actor);

    [Alias("ListApprovals")]
    Task<IReadOnlyList<PendingApproval>> ListApprovalsAsync();

    /// <summary>Approves or rejects a request that waits for approval; the client learns it at its next pollReq.</summary>
    [Alias("DecideApproval")]
    Task<AdminReply<string>> DecideApprovalAsync(string alias, string transactionIdHex, bool approve, string actor);
}

/// <summary>How an admin operation ended; the gateway maps it to an HTTP status.</summary>
public enum AdminStatus
{
    Ok = 0,
    Created = 1,
    /// <summary>Input refused; <see cref="AdminReply{T}.Errors"/> says which field and why.</summary>
    Invalid = 2,
    NotFound = 3,
    Conflict = 4,
}

/// <summary>The answer to one admin operation: a value, or field errors, or a problem title and detail.</summary>
[GenerateSerializer, Immutable]
[Alias("CmpCluster.AdminReply`1")]
public sealed record AdminReply<T>(
    [property: Id(0)] AdminStatus Status,
    [property: Id(1)] T? Value,
    [property: Id(2)] IReadOnlyDictionary<string, string>? Errors = null,
    [property: Id(3)] string? Title = null,
    [property: Id(4)] string? Detail = null)
{
    public static AdminReply<T> Ok(T value) => new(AdminStatus.Ok, value);

    public static AdminReply<T> Invalid(IReadOnlyDictionary<string, string> errors) => new(AdminStatus.Invalid, default, errors);

    public static AdminReply<T> Invalid(string field, string message) => Invalid(new Dictionary<string, string> { [field] = message });

    public static AdminReply<T> Problem(AdminStatus status, string title, string detail) => new(status, default, null, title, detail);
}

/// <summary>An end entity as an operator submits it; every field is checked by the admin grain.</summary>
[GenerateSerializer, Immutable]
[Alias("CmpCluster.EndEntityInput")]
public sealed record EndEntityInput(
    [property: Id(0)] string? Username,
    [property: Id(1)] string? SubjectDn,
    [property: Id(2)] string[]? SubjectAltNames,
    [property: Id(3)] string? Ca,
    [property: Id(4)] string? CertificateProfile,
    [property: Id(5)] string? EndEntityProfile,
    [property: Id(6)] string? EnrollmentCode);

[GenerateSerializer, Immutable]
[Alias("CmpCluster.BulkRegistrationReply")]
public sealed record BulkRegistrationReply(
    [property: Id(0)] int Created,
    [property: Id(1)] int Replaced,
    [property: Id(2)] int Existing,
    [property: Id(3)] int Invalid,
    [property: Id(4)] IReadOnlyList<BulkItemProblem> Errors,
    /// <summary>Set when the request as a whole was refused (no item was registered); field → message.</summary>
    [property: Id(5)] IReadOnlyDictionary<string, string>? RequestErrors = null);

[GenerateSerializer, Immutable]
[Alias("CmpCluster.BulkItemProblem")]
public sealed record BulkItemProblem(
    [property: Id(0)] int Index,
    [property: Id(1)] string? Username,
    [property: Id(2)] string Field,
    [property: Id(3)] string Message);

/// <summary>
/// A CA to create (development bootstrap): a new root and an issuing CA, or with <see cref="IssuedBy"/> an issuing CA under
/// that CA's root. Unset subjects are made from the name; unset <see cref="KeyAlgorithm"/>: the node's Pki:KeyAlgorithm.
/// </summary>
[GenerateSerializer, Immutable]
[Alias("CmpCluster.CaCreateInput")]
public sealed record CaCreateInput(
    [property: Id(0)] string? Name,
    [property: Id(1)] string? KeyAlgorithm,
    [property: Id(2)] string? RootSubject,
    [property: Id(3)] string? IssuingSubject,
    [property: Id(4)] string? CmpSignerSubject,
    [property: Id(5)] string? OcspSignerSubject,
    [property: Id(6)] string? IssuedBy);

/// <summary>
/// A CA to import (an operator's key ceremony): its certificate then its self-signed root (PEM), and its key, one of: an
/// encrypted PKCS#8 PEM (<see cref="KeyPem"/>), the path of one on the silos (<see cref="KeyFile"/>), each with
/// <see cref="KeyPassphrase"/>, or a PKCS#11 key (<see cref="Pkcs11Token"/>, <see cref="Pkcs11KeyLabel"/>). The passphrase
/// is used once and never stored or logged.
/// </summary>
[GenerateSerializer, Immutable]
[Alias("CmpCluster.CaImportInput")]
public sealed record CaImportInput(
    [property: Id(0)] string? Name,
    [property: Id(1)] string? CertificateChainPem,
    [property: Id(2)] string? KeyPem,
    [property: Id(3)] string? KeyFile,
    [property: Id(4)] string? KeyPassphrase,
    [property: Id(5)] string? Pkcs11Token,
    [property: Id(6)] string? Pkcs11KeyLabel,
    [property: Id(7)] string? CmpSignerSubject,
    [property: Id(8)] string? OcspSignerSubject)
{
    /// <summary>Never the passphrase or the key, should the record be logged.</summary>
    public override string ToString() => $"CaImportInput {{ Name = {Name} }}";
}
