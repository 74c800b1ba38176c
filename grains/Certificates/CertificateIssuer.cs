using System.Security.Cryptography;
using CmpCluster.Contracts;
using CmpCluster.Grains.Pki;
using CmpCluster.Protocol;
using CmpCluster.Protocol.Configuration;
using Org.BouncyCastle.Asn1;
using Org.BouncyCastle.Asn1.Crmf;
using Org.BouncyCastle.Asn1.X509;
using Org.BouncyCastle.Math;

namespace CmpCluster.Grains.Certificates;

/// <summary>What the enrollment handler decided to certify, after validation and POP.</summary>
public sealed record IssuanceRequest(
    CertificateAuthorityKeys Ca,
    CertificateProfileOptions Profile,
    X509Name Subject,
    SubjectPublicKeyInfo PublicKey,
    /// <summary>Already decided by the handler: the registered names, or the requested ones where the profile allows.</summary>
    X509Extension? SubjectAltName,
    string Owner,
    string TransactionKey,
    bool Confirmed,
    /// <summary>The end entity the certificate belongs to, when known (client mode, RA name generation, key update).</summary>
    string? EndEntity = null,
    string? ProfileName = null)
{
    /// <summary>The template's validity, where the profile lets a request choose it (<see cref="CertificateProfileOptions.AllowValidityOverride"/>).</summary>
    public OptionalValidity? RequestedValidity { get; init; }

    /// <summary>The template's key usage bits, where the profile lets a request choose them.</summary>
    public int? RequestedKeyUsage { get; init; }

    /// <summary>The template's extended key usages, where the profile lets a request choose them.</summary>
    public IReadOnlyList<DerObjectIdentifier>? RequestedExtendedKeyUsages { get; init; }

    /// <summary>
    /// Awaiting confirmation: what identifies this request in its transaction (the transaction key and the request's
    /// hash). The serial is then derived from it instead of drawn, and the certificate's record carries
    /// <see cref="CertificateIntent.ConfirmBy"/>: the record itself is the write-ahead (see <see cref="CertificateIssuer.IssueAsync"/>).
    /// </summary>
    public byte[]? SerialSource { get; init; }

    /// <summary>When a certificate awaiting confirmation is revoked if nobody confirmed it (with <see cref="SerialSource"/>).</summary>
    public DateTimeOffset? ConfirmBy { get; init; }
}

/// <param name="ValidityModified">the request asked for a validity this certificate does not have (shortened to the profile's maximum or the CA's notAfter).</param>
public sealed record IssuedCertificate(string Key, string SerialHex, byte[] Der, bool ValidityModified = false);

/// <summary>The issuance cycle, linear and numbered: validate, choose and record a serial, build, sign once and store, answer.</summary>
public sealed class CertificateIssuer(IGrainFactory grains, TimeProvider time, Microsoft.Extensions.Options.IOptions<PkiOptions> pki,
    DerivedSerials derived, IServiceProvider services)
{
    private readonly PkiOptions _pki = pki.Value;

    /// <summary>
    /// Whether the certificates' store indexes a record's due time (<see cref="Storage.IStateLifetimeIndex"/> under
    /// <see cref="GrainNames.Storage"/>: the node's SQLite store and the cluster's Redis store do), so the deadline sweeper
    /// finds a certificate awaiting confirmation whose transaction was never stored.
    /// </summary>
    public bool DeadlinesIndexed { get; } = Microsoft.Extensions.DependencyInjection.ServiceProviderKeyedServiceExtensions
        .GetKeyedService<Storage.IStateLifetimeIndex>(services, GrainNames.Storage) is not null;

    private const int MaxSerialAttempts = 4;

    /// <summary>
    /// The issuance cycle. Nothing is signed that could be lost without trace: either <paramref name="reserved"/> runs after
    /// the serial is chosen and before anything is signed (the transaction records, durably, which serial it is issuing, so
    /// a retry after a crash finishes that certificate, <see cref="ResumeAsync"/>, instead of signing a second one), or the
    /// request has a <see cref="IssuanceRequest.SerialSource"/>: its serial is derived from the request, so a retry of the
    /// same request asks the certificate grain for the same serial and gets the certificate already signed, and the
    /// record awaits confirmation with a deadline of its own, so one that no transaction ever delivered is revoked.
    /// </summary>
    public async Task<IssuedCertificate> IssueAsync(IssuanceRequest request, Func<string, Task>? reserved)
    {
        // 1. Validation against alias and profile, and POP, happened in the handler that built the request.
        DateTimeOffset now = time.GetUtcNow();
        for (int attempt = 0; attempt < MaxSerialAttempts; attempt++)
        {
            // 2. A serial: 16 bytes, positive (RFC 5280 §4.1.2.2: non-zero, at most 20 octets; CA/B BR: at least 64 bits
            // of CSPRNG output, or here of a keyed PRF nobody can predict without the CA's secret), recorded before it is used.
            byte[] bytes = request.SerialSource is { } source ? derived.For(request.Ca.Name, source, attempt) : RandomNumberGenerator.GetBytes(16);
            bytes[0] = (byte)((bytes[0] & 0x7F) | 0x01);
            var serial = new BigInteger(1, bytes);
            string serialHex = serial.ToString(16).ToUpperInvariant();
            if (reserved is not null)
            {
                await reserved(GrainKeys.Certificate(request.Ca.Name, serialHex));
            }

            // 3 to 5: build, then sign once and store in the certificate grain, which refuses a serial that has a record.
            if (await SignAndStoreAsync(request, serial, serialHex, now) is { } issued)
            {
                return issued;
            }
        }
        throw new InvalidOperationException("could not find a fresh serial number");
    }

    /// <summary>
    /// A retry of an issuance that a crash interrupted, under the serial the transaction recorded: the certificate already
    /// signed is returned as it is (never signed again); a serial that was never signed is signed now, for the first time.
    /// </summary>
    public async Task<IssuedCertificate> ResumeAsync(IssuanceRequest request, string key)
    {
        string serialHex = key[(key.LastIndexOf('/') + 1)..];
        CertificateRecord? stored = await grains.GetGrain<ICertificateGrain>(key).GetAsync();
        if (stored is { Status: CertificateStatus.Revoked })
        {
            throw new CmpFailureException(PkiFailureInfo.BadRequest, "the interrupted issuance of this transaction was revoked");
        }
        return await SignAndStoreAsync(request, new BigInteger(serialHex, 16), serialHex, stored?.Intent.RequestedAt ?? time.GetUtcNow())
            ?? throw new InvalidOperationException($"the serial {key} recorded by this transaction belongs to another issuance");
    }

    /// <summary>
    /// An interrupted issuance whose key the CA generated cannot be resumed: the key died with the attempt. Whatever it
    /// signed under <paramref name="key"/> was never delivered and is revoked (a serial never signed stays unused).
    /// </summary>
    public Task AbandonAsync(string key) => grains.GetGrain<ICertificateGrain>(key)
        .RevokeAsync(new RevocationRequest(RevocationReason.CessationOfOperation, "issuance interrupted; its server-generated key was lost"));

    /// <summary>Null when the serial already has a record of another issuance (nothing was signed).</summary>
    private async Task<IssuedCertificate?> SignAndStoreAsync(IssuanceRequest request, BigInteger serial, string serialHex, DateTimeOffset now)
    {
        // 3. Build the TBS certificate from the profile; only subject, key and (if allowed) subjectAltName come from the template.
        string key = GrainKeys.Certificate(request.Ca.Name, serialHex);
        (DateTimeOffset notBefore, DateTimeOffset notAfter, bool validityModified) = Validity(request, now);
        byte[] tbs = BuildTbs(request, serial, notBefore, notAfter, _pki).GetEncoded(Asn1Encodable.Der);
        var intent = new CertificateIntent(request.Ca.Name, serialHex, request.Subject.ToString(), request.Owner, request.TransactionKey, now,
            request.EndEntity, request.ProfileName, SHA256.HashData(request.PublicKey.GetEncoded(Asn1Encodable.Der)), request.ConfirmBy);

        // 4 and 5. Sign once and store, in the certificate grain: it signs only the TBSCertificate that matches the intent,
        // and stores the certificate (awaiting confirmation unless implicitly confirmed) before anyone sees it. A
        // retransmitted request is answered from the transaction's stored response, never re-signed.
        if (await grains.GetGrain<ICertificateGrain>(key).IssueAsync(intent, tbs, request.Confirmed) is not { } der)
        {
            return null;
        }
        Telemetry.GrainTelemetry.CertificatesIssued.Add(1, new("ca", request.Ca.Name), new("profile", request.ProfileName ?? "-"));

        // 6. The caller answers; certConf, rejection or the confirm timeout decide the final status.
        return new IssuedCertificate(key, serialHex, der, validityModified);
    }

    /// <summary>
    /// The profile's validity, or the one the request asked for where the profile allows it, at most the profile's
    /// maximum; never beyond the issuing CA's notAfter (RFC 5280 §6.1). Modified: the request asked for something else.
    /// </summary>
    private static (DateTimeOffset NotBefore, DateTimeOffset NotAfter, bool Modified) Validity(IssuanceRequest request, DateTimeOffset now)
    {
        CertificateProfileOptions profile = request.Profile;
        DateTimeOffset notBefore = now - profile.NotBeforeSkew;
        DateTimeOffset notAfter = now.AddDays(profile.ValidityDays);
        bool modified = false;
        if (request.RequestedValidity?.NotAfter is { } askedEnd)
        {
            DateTimeOffset asked = new(askedEnd.ToDateTime().ToUniversalTime());
            DateTimeOffset longest = now.AddDays(profile.MaxValidityDays ?? profile.ValidityDays);
            notAfter = asked <= longest ? asked : longest;
            modified = asked > longest;
            if (request.RequestedValidity.NotBefore is { } askedStart)
            {
                DateTimeOffset start = new(askedStart.ToDateTime().ToUniversalTime());
                // A start in the future is honoured; one further back than the profile's skew is not.
                if (start >= notBefore)
                {
                    notBefore = start;
                }
                else
                {
                    modified = true;
                }
            }
            if (notAfter <= notBefore)
            {
                (notAfter, modified) = (now.AddDays(profile.ValidityDays), true);
            }
        }
        DateTimeOffset caNotAfter = request.Ca.Ca.Certificate.EndDate.ToDateTime();
        if (notAfter > caNotAfter)
        {
            // RFC 5280 §6.1: never outlive the issuer.
            modified |= request.RequestedValidity?.NotAfter is not null;
            notAfter = caNotAfter;
        }
        return (notBefore, notAfter, modified);
    }

    private static TbsCertificateStructure BuildTbs(IssuanceRequest request, BigInteger serial, DateTimeOffset notBefore, DateTimeOffset notAfter, PkiOptions pki)
    {
        X509CertificateStructure caCertificate = request.Ca.Ca.Certificate;

        var generator = new V3TbsCertificateGenerator();
        generator.SetSerialNumber(new DerInteger(serial));
        generator.SetSignature(request.Ca.Ca.Signer.Algorithm);
        generator.SetIssuer(caCertificate.Subject);
        generator.SetStartDate(new Time(notBefore.UtcDateTime));
        generator.SetEndDate(new Time(notAfter.UtcDateTime));
        generator.SetSubject(request.Subject);
        generator.SetSubjectPublicKeyInfo(request.PublicKey);
        generator.SetExtensions(ProfileExtensions.Build(request, caCertificate, pki));
        return generator.GenerateTbsCertificate();
    }
}

/// <summary>
/// Serial numbers derived from what identifies a request (<see cref="IssuanceRequest.SerialSource"/>): HMAC-SHA256 under a
/// secret every silo derives alike from the first configured CA's oldest key (as the silo call token is, see
/// grains/Internal/SiloCallToken.cs), over the CA's name, the request's identity and the attempt. The same request gets the same serial
/// on any silo, after a restart or a CA renewal; without a CA's private key nobody can predict one.
/// </summary>
public sealed class DerivedSerials(PkiKeyRing keys)
{
    private readonly Lazy<byte[]> _secret = new(() => keys.Configured.OrderBy(a => a.Name, StringComparer.Ordinal).First()
        .FirstKey.DeriveSecret("CmpCluster serial numbers v1"), LazyThreadSafetyMode.PublicationOnly);

    /// <summary>16 bytes of the HMAC (the caller makes them a positive serial).</summary>
    public byte[] For(string ca, byte[] source, int attempt)
    {
        byte[] input = [.. System.Text.Encoding.UTF8.GetBytes(ca), 0, .. source, (byte)attempt];
        return HMACSHA256.HashData(_secret.Value, input)[..16];
    }
}
