using CmpCluster.Contracts;
using Org.BouncyCastle.Asn1.X509;

namespace CmpCluster.Protocol.Policy;

/// <summary>
/// A request-handler plug-in: a deployment's own decision on an enrollment (ir, cr, p10cr, kur), called after the request
/// is authenticated and checked (template, key, proof of possession) and before anything is issued. An implementation in
/// an assembly of its own is named in configuration (<c>Cmp:Policies:&lt;name&gt;</c> with <c>Kind: Assembly</c>,
/// <c>AssemblyPath</c>, <c>TypeName</c>) and loaded at start; it needs a public constructor taking the policy's settings
/// (<c>IReadOnlyDictionary&lt;string, string?&gt;</c>) or none. It must be thread-safe: one instance serves every request.
/// </summary>
public interface IEnrollmentPolicy
{
    /// <summary>Decides within the configured timeout (<c>Cmp:PolicyTimeout</c>); past it the request is answered systemUnavail.</summary>
    Task<PolicyVerdict> EvaluateAsync(EnrollmentContext context, CancellationToken cancellationToken);
}

/// <summary>What the plug-in sees of an enrollment: who asked, for what, through which alias and profile. No secret.</summary>
/// <param name="PublicKey">the key to certify; for a key the CA generates (RFC 9483 §4.1.6), its algorithm with an empty key, since it is generated after the plug-ins agree.</param>
/// <param name="VendorCertificateSerial">vendor mode: the serial number (hex) of the vendor certificate that signed the request.</param>
public sealed record EnrollmentContext(
    string Alias,
    string Requester,
    PkiBodyType RequestType,
    X509Name Subject,
    SubjectPublicKeyInfo PublicKey,
    string? EndEntity,
    string Profile,
    string TransactionKey,
    string? VendorCertificateSerial = null);

/// <summary>A plug-in's decision.</summary>
public abstract record PolicyVerdict
{
    private PolicyVerdict()
    {
    }

    public static PolicyVerdict Allow { get; } = new Allowed();

    /// <summary>Refused with this failInfo and a text the client may read (never a secret).</summary>
    public static PolicyVerdict Refuse(PkiFailureInfo failInfo, string text) => new Refused(failInfo, text);

    /// <summary>
    /// Not decided yet: the client is answered "waiting" (RFC 9483 §4.4) and the plug-in is asked again at each pollReq,
    /// until it allows or refuses, or Cmp:MaxWaitTime passes.
    /// </summary>
    public static PolicyVerdict Defer(string reason) => new Deferred(reason);

    /// <summary>
    /// Allowed, with changes to what is issued, within what the certificate profile allows (the answer is then
    /// grantedWithMods, RFC 9810 §5.2.3). With several plug-ins on an alias, a later one's change of the same field wins.
    /// </summary>
    public static PolicyVerdict Adjust(TemplateAdjustment changes) => new Adjusted(changes);

    public sealed record Allowed : PolicyVerdict;

    public sealed record Adjusted(TemplateAdjustment Changes) : PolicyVerdict;

    public sealed record Refused(PkiFailureInfo FailInfo, string Text) : PolicyVerdict;

    public sealed record Deferred(string Reason) : PolicyVerdict;
}

/// <summary>
/// What a plug-in may change in an enrollment (<see cref="PolicyVerdict.Adjust"/>); a field left null keeps what the
/// request and profile gave. Each change is held to the profile: a subject to the alias's end-entity profile rules (RA
/// mode only: a registered end entity and a key update keep their subject), subjectAltName names to the profile's
/// <c>AllowedSubjectAltNameTypes</c>, notAfter to the profile's longest validity. A change outside them refuses the request.
/// </summary>
public sealed record TemplateAdjustment
{
    public X509Name? Subject { get; init; }

    /// <summary>The subjectAltName to issue instead of the requested one (RFC 5280 §4.2.1.6).</summary>
    public GeneralNames? SubjectAltNames { get; init; }

    /// <summary>A notAfter (shorter validity); one beyond the profile's longest validity is shortened to it.</summary>
    public DateTimeOffset? NotAfter { get; init; }

    /// <summary>This adjustment with <paramref name="later"/>'s fields over it.</summary>
    public TemplateAdjustment Then(TemplateAdjustment later) => new()
    {
        Subject = later.Subject ?? Subject,
        SubjectAltNames = later.SubjectAltNames ?? SubjectAltNames,
        NotAfter = later.NotAfter ?? NotAfter,
    };
}
