using CmpCluster.Contracts;

namespace CmpCluster.Grains.Internal;

/// <summary>
/// Silo-internal. One registered device or user (key: username, see <see cref="GrainKeys.EndEntity"/>). It serializes work per end
/// entity: one open enrollment at a time, and its one-time enrollment code never leaves the silo.
/// </summary>
[Alias("CmpCluster.IEndEntityGrain")]
public interface IEndEntityGrain : IGrainWithStringKey
{
    [Alias("Get")]
    Task<EndEntityView?> GetAsync();

    /// <summary>Creates the end entity with status NEW; with <paramref name="replace"/> an existing one is overwritten
    /// (its certificates stay linked). Returns null when it exists and <paramref name="replace"/> is false.</summary>
    [Alias("Register")]
    Task<EndEntityView?> RegisterAsync(EndEntityRegistration registration, bool replace);

    /// <summary>Changes the registration; a null enrollment code keeps the current one. Null when it does not exist.</summary>
    [Alias("Update")]
    Task<EndEntityView?> UpdateAsync(EndEntityRegistration registration);

    [Alias("Delete")]
    Task<bool> DeleteAsync();

    /// <summary>Back to NEW with a new enrollment code (EJBCA: "reset status"). Null when it does not exist.</summary>
    [Alias("Reset")]
    Task<EndEntityView?> ResetAsync(string enrollmentCode);

    /// <summary>
    /// Authenticates an enrollment with the one-time code (a password, or a PasswordBasedMac keyed with it) and, when
    /// it succeeds, opens the enrollment for <paramref name="transactionKey"/>. Refused while another is open.
    /// </summary>
    [Alias("BeginEnrollment")]
    Task<EnrollmentGrant> BeginEnrollmentAsync(string transactionKey, EnrollmentProof proof);

    /// <summary>
    /// Verifies a follow-up (certConf) of the enrollment this end entity last completed or has open: the code is
    /// consumed by then, but the transaction that used it may still confirm what it received.
    /// </summary>
    [Alias("VerifyFollowUp")]
    Task<EnrollmentGrant> VerifyFollowUpAsync(string transactionKey, EnrollmentProof proof);

    /// <summary>
    /// A server-generated key for the enrollment <paramref name="transactionKey"/> holds open, delivered to the one-time
    /// code (RFC 9483 §4.1.6.3): the key-encryption key PBKDF2-HMAC-SHA256 derives from the code with
    /// <paramref name="salt"/>, so the code itself never leaves this grain. Null unless that enrollment is open and its code unused.
    /// </summary>
    [Alias("DeriveKeyEncryptionKey")]
    Task<byte[]?> DeriveKeyEncryptionKeyAsync(string transactionKey, byte[] salt, int iterations);

    /// <summary>
    /// The certificate was issued: link it, status GENERATED (the code no longer works), enrollment closed — or, with
    /// <paramref name="holdUntil"/> (a key update awaiting certConf), kept open for this transaction until then or until
    /// <see cref="AbortEnrollmentAsync"/> releases it, so no second update can start meanwhile. With
    /// <paramref name="followUpExpected"/> (a certConf that <see cref="VerifyFollowUpAsync"/> will authenticate) the
    /// activation stays for it, instead of going now and being read back from the store a few milliseconds later.
    /// </summary>
    [Alias("CompleteEnrollment")]
    Task CompleteEnrollmentAsync(string transactionKey, string certificateKey, DateTimeOffset? holdUntil = null, bool followUpExpected = false);

    /// <summary>
    /// RA mode: the RA was authenticated and a certificate issued for this end entity. It is created (with a random code
    /// nobody knows) or updated with the registration, linked to the certificate, and GENERATED.
    /// </summary>
    [Alias("RecordRaIssuance")]
    Task RecordRaIssuanceAsync(EndEntityRegistration registration, string certificateKey);

    /// <summary>Closes the enrollment this transaction holds open, if any (nothing was issued, or a held key update ended);
    /// the end entity stays as it was.</summary>
    [Alias("AbortEnrollment")]
    Task AbortEnrollmentAsync(string transactionKey);
}

/// <summary>How a request proves it knows the enrollment code.</summary>
[GenerateSerializer, Immutable]
[Alias("CmpCluster.EnrollmentProof")]
public sealed record EnrollmentProof(
    /// <summary>The code itself (regToken control, or a DN part of the requested subject).</summary>
    [property: Id(0)] string? Password,
    /// <summary>For PasswordBasedMac: the DER protectionAlg, the exact ProtectedPart bytes and the received protection.</summary>
    [property: Id(1)] byte[]? MacAlgorithm,
    [property: Id(2)] byte[]? ProtectedPart,
    [property: Id(3)] byte[]? Protection,
    /// <summary>EndEntityCertificate: the key of a certificate of ours that signed the request (its signature, validity
    /// and revocation already checked); the end entity must own it. No code is needed then.</summary>
    [property: Id(4)] string? CertificateKey = null,
    /// <summary>Vendor certificate mode: the request was signed with a vendor certificate that chains to a vendor CA of the
    /// alias (already verified). Like a code it opens an enrollment only in status NEW.</summary>
    [property: Id(5)] bool VendorCertificate = false);

public enum EnrollmentRefusal
{
    None = 0,
    /// <summary>No such end entity, wrong code, or not in status NEW (EJBCA's CMP error table: notAuthorized).</summary>
    NotAuthorized = 1,
    /// <summary>Another enrollment of this end entity is still open.</summary>
    EnrollmentOpen = 2,
    /// <summary>The MAC parameters are out of bounds or unsupported.</summary>
    BadMacParameters = 3,
}

/// <summary>
/// The answer to <see cref="IEndEntityGrain.BeginEnrollmentAsync"/>. For a MAC proof, <see cref="MacKey"/> is the key
/// derived for that message's parameters only, so the engine can protect its response without knowing the code.
/// </summary>
[GenerateSerializer, Immutable]
[Alias("CmpCluster.EnrollmentGrant")]
public sealed record EnrollmentGrant(
    [property: Id(0)] EnrollmentRefusal Refusal,
    [property: Id(1)] EndEntityView? EndEntity,
    [property: Id(2)] byte[]? MacKey)
{
    public bool Granted => Refusal == EnrollmentRefusal.None;
}
