using CmpCluster.Contracts;
using CmpCluster.Grains.Pki;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Concurrency;
using Org.BouncyCastle.Asn1.Ocsp;
using Org.BouncyCastle.Math;

namespace CmpCluster.Grains.Revocation;

/// <summary>
/// The OCSP responder (RFC 6960), a stateless worker next to the key ring: each CertID's status is read from its
/// certificate grain, so OCSP and the CRL tell the same story (OCSP sooner: it needs no new CRL). A CertID of a CA's
/// retired key (<c>pki renew-ca --new-key</c>) is answered with a response signed by that key itself, its certificate
/// included: RFC 6960 §4.2.2.2 lets the CA key that issued the certificate sign, and the delegated signer is issued by
/// the current key, which did not issue it.
/// </summary>
[StatelessWorker]
public sealed partial class OcspResponderGrain(
    OcspIssuerIndex issuers,
    IOptionsMonitor<PkiOptions> options,
    TimeProvider time,
    ILogger<OcspResponderGrain> logger) : Grain, IOcspResponderGrain
{
    /// <summary>RFC 5280 §4.1.2.2: serials are at most 20 octets; anything longer cannot be ours.</summary>
    private const int MaxSerialBytes = 20;

    public async Task<byte[]> RespondAsync(byte[] requestDer)
    {
        PkiOptions pki = options.CurrentValue;
        OcspQuery? query = OcspMessages.TryParse(requestDer, pki.Ocsp.MaxRequestEntries);
        if (query is null)
        {
            LogAnswered(logger, 0, "malformedRequest");
            return OcspMessages.Error(OcspResponseStatus.MalformedRequest);
        }
        // One signer per response: the CA key of the first CertID we serve. A CertID of another CA, or of another key of
        // this CA, is answered unknown, since this signer is not authorized for it (RFC 6960 §4.2.2.2).
        OcspIssuer? issuer = query.Ids.Select(issuers.Find).FirstOrDefault(c => c is not null);
        if (issuer is null)
        {
            // RFC 6960 §2.3: we are not a responder for any of these issuers.
            LogAnswered(logger, query.Ids.Count, "unauthorized");
            return OcspMessages.Error(OcspResponseStatus.Unauthorized);
        }

        DateTimeOffset now = time.GetUtcNow();
        CertificateAuthorityKeys ca = issuer.Ca;
        OcspOptions settings = pki.OcspOf(ca.Name);
        TimeSpan? validity = settings.ResponseValidity;
        SingleResponse[] responses = await Task.WhenAll(query.Ids.Select(id => StatusAsync(id, issuer, now, validity)));
        bool delegated = settings.Signer == OcspSignerKind.Delegated && issuer.IsCurrentKey;
        byte[] response;
        try
        {
            response = OcspMessages.Successful(delegated ? ca.OcspSigner : issuer.Key, delegated || !issuer.IsCurrentKey, responses, query.Nonce, now);
        }
        catch (KeyUnavailableException)
        {
            // RFC 6960 §2.3 tryLater: the signing key is on a token that is away; the client may ask again.
            LogAnswered(logger, query.Ids.Count, "tryLater");
            return OcspMessages.Error(OcspResponseStatus.TryLater);
        }
        LogAnswered(logger, query.Ids.Count, "successful");
        return response;
    }

    private async Task<SingleResponse> StatusAsync(CertID id, OcspIssuer issuer, DateTimeOffset now, TimeSpan? validity)
    {
        BigInteger serial = id.SerialNumber.Value;
        if (issuers.Find(id) != issuer || serial.SignValue <= 0 || serial.BitLength > MaxSerialBytes * 8)
        {
            return OcspMessages.Unknown(id, now, validity);
        }
        // Grain keys use the serial as CertificateIssuer writes it: upper-case hex of the positive value, no leading zeros.
        string serialHex = serial.ToString(16).ToUpperInvariant();
        CertificateRecord? record = await GrainFactory.GetGrain<ICertificateGrain>(GrainKeys.Certificate(issuer.Ca.Name, serialHex)).GetAsync();
        if (issuer.Ca.Retired.Count > 0 && record?.Der is { } der && !SignedBy(der, issuer.Key))
        {
            // The CertID names another key of this CA than the one that signed the certificate: not the certificate asked about.
            return OcspMessages.Unknown(id, now, validity);
        }
        return record switch
        {
            { Status: CertificateStatus.Confirmed } => OcspMessages.Good(id, now, validity),
            { Status: CertificateStatus.Revoked, RevokedAt: { } revokedAt } =>
                OcspMessages.Revoked(id, revokedAt, record.RevocationReason ?? RevocationReason.Unspecified, now, validity),
            // Never "good" for a serial we did not issue (RFC 6960 §2.2): no record, or only a reservation that was never
            // signed. AwaitingConfirmation is unknown too: the certificate is not in force yet; it becomes good when the
            // client confirms it and revoked when it does not (certConf rejection or the confirm wait time).
            _ => OcspMessages.Unknown(id, now, validity),
        };
    }

    /// <summary>Whether the certificate's authorityKeyIdentifier (RFC 5280 §4.2.1.1) is <paramref name="key"/>'s subjectKeyIdentifier;
    /// true when either is absent.</summary>
    private static bool SignedBy(byte[] certificateDer, KeyHolder key)
    {
        Org.BouncyCastle.Asn1.X509.X509Extension? extension = Org.BouncyCastle.Asn1.X509.X509CertificateStructure.GetInstance(certificateDer)
            .TbsCertificate.Extensions?.GetExtension(Org.BouncyCastle.Asn1.X509.X509Extensions.AuthorityKeyIdentifier);
        byte[]? keyId = extension is null ? null
            : Org.BouncyCastle.Asn1.X509.AuthorityKeyIdentifier.GetInstance(extension.GetParsedValue()).KeyIdentifier?.GetOctets();
        return keyId is null || key.SubjectKeyIdentifier is null || keyId.AsSpan().SequenceEqual(key.SubjectKeyIdentifier);
    }

    [LoggerMessage(EventId = 510, Level = LogLevel.Debug, Message = "ocsp request with {Entries} CertIDs answered {Status}")]
    private static partial void LogAnswered(ILogger logger, int entries, string status);
}
