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
/// certificate grain, so OCSP and the CRL tell the same story (OCSP sooner: it needs no new CRL).
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
        // One signer per response: the CA of the first CertID we serve. A CertID of another CA is answered unknown, since
        // this signer is not authorized for it (RFC 6960 §4.2.2.2).
        CertificateAuthorityKeys? ca = query.Ids.Select(issuers.Find).FirstOrDefault(c => c is not null);
        if (ca is null)
        {
            // RFC 6960 §2.3: we are not a responder for any of these issuers.
            LogAnswered(logger, query.Ids.Count, "unauthorized");
            return OcspMessages.Error(OcspResponseStatus.Unauthorized);
        }

        DateTimeOffset now = time.GetUtcNow();
        OcspOptions settings = pki.OcspOf(ca.Name);
        TimeSpan? validity = settings.ResponseValidity;
        SingleResponse[] responses = await Task.WhenAll(query.Ids.Select(id => StatusAsync(id, ca, now, validity)));
        bool delegated = settings.Signer == OcspSignerKind.Delegated;
        byte[] response;
        try
        {
            response = OcspMessages.Successful(delegated ? ca.OcspSigner : ca.Ca, delegated, responses, query.Nonce, now);
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

    private async Task<SingleResponse> StatusAsync(CertID id, CertificateAuthorityKeys ca, DateTimeOffset now, TimeSpan? validity)
    {
        BigInteger serial = id.SerialNumber.Value;
        if (!ReferenceEquals(issuers.Find(id), ca) || serial.SignValue <= 0 || serial.BitLength > MaxSerialBytes * 8)
        {
            return OcspMessages.Unknown(id, now, validity);
        }
        // Grain keys use the serial as CertificateIssuer writes it: upper-case hex of the positive value, no leading zeros.
        string serialHex = serial.ToString(16).ToUpperInvariant();
        CertificateRecord? record = await GrainFactory.GetGrain<ICertificateGrain>(GrainKeys.Certificate(ca.Name, serialHex)).GetAsync();
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

    [LoggerMessage(EventId = 510, Level = LogLevel.Debug, Message = "ocsp request with {Entries} CertIDs answered {Status}")]
    private static partial void LogAnswered(ILogger logger, int entries, string status);
}
