using System.Security.Cryptography;
using CmpCluster.Contracts;
using CmpCluster.Grains.Audit;
using CmpCluster.Grains.Pki;
using Microsoft.Extensions.Logging;
using Org.BouncyCastle.Asn1;
using Org.BouncyCastle.Asn1.X509;

namespace CmpCluster.Grains.Certificates;

[GenerateSerializer]
[Alias("CmpCluster.CertificateState")]
public sealed class CertificateState : Storage.IStateLifetime
{
    [Id(0)] public CertificateIntent? Intent { get; set; }
    [Id(1)] public CertificateStatus Status { get; set; }
    [Id(2)] public byte[]? Der { get; set; }
    [Id(3)] public RevocationReason? RevocationReason { get; set; }
    [Id(4)] public DateTimeOffset? RevokedAt { get; set; }
    [Id(5)] public string? RevocationCause { get; set; }
    [Id(6)] public DateTimeOffset? InvalidityDate { get; set; }

    /// <summary>Awaiting confirmation: the certificate is revoked if still unconfirmed then (<see cref="CertificateIntent.ConfirmBy"/>).</summary>
    [Id(7)] public DateTimeOffset? ConfirmBy { get; set; }

    public DateTimeOffset? DueAt => Status == CertificateStatus.AwaitingConfirmation ? ConfirmBy : null;

    public DateTimeOffset? ExpiresAt => null;
}

/// <summary>
/// One certificate record. Every change is written before the call returns; the storage ETag plus single
/// activation guarantee that a serial with a record is never signed twice. A certificate is touched a few
/// times while it is issued and rarely afterwards: once confirmed its activation goes at once, and an idle one within
/// the collection age, so memory does not grow with the certificates issued.
/// </summary>
[CollectionAgeLimit(Minutes = 2)]
public sealed partial class CertificateGrain(
    [Microsoft.Extensions.DependencyInjection.FromKeyedServices(GrainNames.Storage)] Orleans.Storage.IGrainStorage store,
    IGrainContext context,
    PkiKeyRing keys,
    IAuditTrail audit,
    TimeProvider time,
    ILogger<CertificateGrain> logger) : Grain, ICertificateGrain
{
    /// <summary>Read at activation (<see cref="OnActivateAsync"/>), written by this grain alone; see <see cref="Storage.StoredState{TState}"/>.</summary>
    private readonly Storage.StoredState<CertificateState> state = new(store, "certificate", context.GrainId);

    public override Task OnActivateAsync(CancellationToken cancellationToken) => state.ReadStateAsync();

    /// <summary>
    /// Issuance steps 2 to 5 (<see cref="CertificateIssuer"/>) in one call and one write: the CA key signs here, and only a
    /// TBSCertificate that matches <paramref name="intent"/> (serial = this grain's, issuer and signature algorithm = the
    /// CA's, subject and public key = the intent's), and the record is durable before the certificate leaves. A serial
    /// that has a record is never signed again: the same transaction asking again for the same subject and key gets the
    /// certificate already stored (an issuance resumed after a crash); anyone else gets null (the serial is taken).
    /// </summary>
    public async Task<byte[]?> IssueAsync(CertificateIntent intent, byte[] tbsCertificateDer, bool confirmed)
    {
        // A serial an older version reserved in a write of its own, for this same issuance, is signed now (its resume).
        bool olderReservation = state.State is { Status: CertificateStatus.Reserved, Intent: { } reserved } && SameIssuance(reserved, intent);
        if ((state.RecordExists || state.State.Status != CertificateStatus.Unknown) && !olderReservation)
        {
            return state.State is { Intent: { } stored, Der: { } issued, Status: CertificateStatus.AwaitingConfirmation or CertificateStatus.Confirmed }
                && SameIssuance(stored, intent) ? issued : null;
        }
        CertificateAuthorityKeys ca = keys.FindAuthority(intent.Ca)
            ?? throw new InvalidOperationException($"no CA '{intent.Ca}' in this silo's key ring");
        TbsCertificateStructure tbs;
        try
        {
            tbs = TbsCertificateStructure.GetInstance(Asn1Object.FromByteArray(tbsCertificateDer));
        }
        catch (Exception e) when (e is ArgumentException or IOException or InvalidCastException)
        {
            LogRefused(logger, this.GetPrimaryKeyString(), "encoding");
            throw new InvalidOperationException($"certificate {this.GetPrimaryKeyString()}: the TBSCertificate is not DER");
        }
        if (IntentMismatch(tbs, intent, ca) is { } mismatch)
        {
            LogRefused(logger, this.GetPrimaryKeyString(), mismatch);
            throw new InvalidOperationException($"certificate {this.GetPrimaryKeyString()}: the TBSCertificate does not match the intent ({mismatch})");
        }
        // A CA whose token is known to be away refuses before anything is recorded (systemUnavail); one that fails while
        // signing throws the same from Sign below, before the record is written.
        if (ca.Ca.Fault is not null)
        {
            throw new KeyUnavailableException(ca.Ca.Name, $"key '{ca.Ca.Name}' cannot sign: {ca.Ca.Fault}");
        }
        // No signature without its audit record: the trail holds it durably first, or nothing is signed
        // (AuditUnavailableException). One record carries the intent and the signature.
        await audit.AppendAsync(new AuditEvent(AuditEventType.CertificateSigned, intent.Owner, this.GetPrimaryKeyString(),
            $"subject={intent.SubjectDn} profile={intent.Profile} transaction={intent.TransactionKey} key=sha256:{Convert.ToHexString(intent.PublicKeyHash!)} confirmed={confirmed}"));
        // The signature covers the exact DER that was checked: the certificate is rebuilt around the parsed structure,
        // which re-encodes to those bytes (DER is canonical).
        byte[] signature = ca.Ca.Sign(tbsCertificateDer, "certificate");
        byte[] der = new X509CertificateStructure(tbs, ca.Ca.Signer.Algorithm, new DerBitString(signature)).GetEncoded(Asn1Encodable.Der);
        state.State.Intent = intent;
        state.State.Der = der;
        state.State.Status = confirmed ? CertificateStatus.Confirmed : CertificateStatus.AwaitingConfirmation;
        state.State.ConfirmBy = confirmed ? null : intent.ConfirmBy;
        // Single activation plus the store's ETag: a record written by another activation meanwhile fails this write.
        await state.WriteStateAsync();
        LogAudit(logger, confirmed ? "issued-confirmed" : "issued", this.GetPrimaryKeyString(), intent.SubjectDn, intent.Owner);
        if (confirmed)
        {
            DeactivateOnIdle();
        }
        return der;
    }

    /// <summary>The same issuance asked again: same transaction, subject and key (its time differs on a retry).</summary>
    private static bool SameIssuance(CertificateIntent stored, CertificateIntent asked) =>
        stored.TransactionKey == asked.TransactionKey && stored.SubjectDn == asked.SubjectDn
        && stored.PublicKeyHash is { } a && asked.PublicKeyHash is { } b && a.AsSpan().SequenceEqual(b);

    /// <summary>What differs between a TBSCertificate and the intent recorded for this serial, or null when nothing does.</summary>
    private string? IntentMismatch(TbsCertificateStructure tbs, CertificateIntent intent, CertificateAuthorityKeys ca)
    {
        if (!string.Equals(tbs.SerialNumber.Value.ToString(16), intent.SerialHex, StringComparison.OrdinalIgnoreCase)
            || this.GetPrimaryKeyString() != GrainKeys.Certificate(intent.Ca, intent.SerialHex))
        {
            return "serial";
        }
        if (!tbs.Issuer.Equivalent(ca.Ca.Certificate.Subject, inOrder: true))
        {
            return "issuer";
        }
        if (!tbs.Signature.Equals(ca.Ca.Signer.Algorithm))
        {
            return "signature algorithm";
        }
        if (tbs.Subject.ToString() != intent.SubjectDn)
        {
            return "subject";
        }
        byte[] keyHash = SHA256.HashData(tbs.SubjectPublicKeyInfo.GetEncoded(Asn1Encodable.Der));
        return intent.PublicKeyHash is { } expected && CryptographicOperations.FixedTimeEquals(expected, keyHash) ? null : "public key";
    }

    /// <summary>
    /// The deadline sweeper's call once <see cref="CertificateState.DueAt"/> passed: a certificate still awaiting
    /// confirmation is revoked (RFC 9810 §5.3.18). Its transaction normally did so first; this is what revokes a
    /// certificate whose transaction never stored it. Idempotent: nothing due, nothing done.
    /// </summary>
    public async Task ExpireIfDueAsync()
    {
        if (state.State.DueAt is { } due && due <= time.GetUtcNow())
        {
            await RevokeAsync(new RevocationRequest(RevocationReason.CessationOfOperation, "not confirmed by its confirm deadline"));
        }
    }

    public async Task<CertificateStatus> ConfirmAsync()
    {
        if (state.State.Status == CertificateStatus.AwaitingConfirmation)
        {
            await audit.AppendAsync(new AuditEvent(AuditEventType.CertificateConfirmed, state.State.Intent!.Owner, this.GetPrimaryKeyString()));
            state.State.Status = CertificateStatus.Confirmed;
            await state.WriteStateAsync();
            LogAudit(logger, "confirmed", this.GetPrimaryKeyString(), state.State.Intent!.SubjectDn, state.State.Intent.Owner);
            DeactivateOnIdle();
        }
        return state.State.Status;
    }

    public async Task<RevocationResult> RevokeAsync(RevocationRequest request)
    {
        switch (state.State.Status)
        {
            // Reserved: a serial an older version reserved and never signed.
            case CertificateStatus.Unknown or CertificateStatus.Reserved:
                return RevocationResult.NotIssued;
            case CertificateStatus.Revoked when request.Reason == RevocationReason.RemoveFromCrl:
                if (state.State.RevocationReason != RevocationReason.CertificateHold)
                {
                    return RevocationResult.NotOnHold;
                }
                // RFC 5280 §5.3.1: removeFromCRL ends a hold; the certificate is valid again and leaves the next CRL.
                await WriteRevocationAsync(CertificateStatus.Confirmed, null, null, null, "hold released: " + request.Cause);
                return RevocationResult.Released;
            case CertificateStatus.Revoked when state.State.RevocationReason == RevocationReason.CertificateHold
                && request.Reason is not (RevocationReason.CertificateHold or RevocationReason.RemoveFromCrl):
                // A certificate on hold may be revoked for good; the revocation time is the new one.
                break;
            case CertificateStatus.Revoked:
                return RevocationResult.AlreadyRevoked;
            default:
                if (request.Reason == RevocationReason.RemoveFromCrl)
                {
                    return RevocationResult.NotOnHold;
                }
                break;
        }
        await WriteRevocationAsync(CertificateStatus.Revoked, request.Reason, time.GetUtcNow(), request.InvalidityDate, request.Cause);
        Telemetry.GrainTelemetry.CertificatesRevoked.Add(1, new("ca", state.State.Intent!.Ca), new("reason", request.Reason.ToString()));
        return RevocationResult.Revoked;
    }

    /// <summary>The one place a certificate's revocation state changes: written before the call returns, then audited.</summary>
    private async Task WriteRevocationAsync(
        CertificateStatus status, RevocationReason? reason, DateTimeOffset? revokedAt, DateTimeOffset? invalidityDate, string cause)
    {
        // The CA marks the serial durably before the change and takes its CRL entry after it, so a crash in between can
        // only leave a mark the next CRL settles by reading this grain once, never a revoked certificate missing from the
        // CRL (RFC 5280 §5: a complete CRL lists every unexpired revoked certificate).
        CertificateIntent intent = state.State.Intent!;
        // What the CRL entry needs (RFC 5280 §5.1.2.6, §5.3.1, §5.3.2) and the notAfter after which it may leave (§3.3);
        // none once a hold is released (§5.3.1: removeFromCRL takes the certificate off the next CRL).
        RevokedEntry? entry = status == CertificateStatus.Revoked
            ? RevokedEntry.Create(revokedAt!.Value, reason!.Value, invalidityDate, RevokedEntry.NotAfterOf(state.State.Der!))
            : null;
        await audit.AppendAsync(new AuditEvent(AuditEventType.CertificateRevoked, intent.Owner, this.GetPrimaryKeyString(),
            $"{(status == CertificateStatus.Revoked ? $"reason={reason}" : "hold released")} cause={cause}"));
        ICertificateAuthorityGrain authority = GrainFactory.GetGrain<ICertificateAuthorityGrain>(GrainKeys.CertificateAuthority(intent.Ca));
        await authority.TrackRevocationAsync(intent.SerialHex);
        state.State.Status = status;
        state.State.RevocationReason = reason;
        state.State.RevokedAt = revokedAt;
        state.State.InvalidityDate = invalidityDate;
        state.State.RevocationCause = cause;
        await state.WriteStateAsync();
        try
        {
            await authority.RevocationWrittenAsync(intent.SerialHex, entry);
        }
        catch (Exception e) when (e is TimeoutException or OrleansException)
        {
            // The change is durable and TrackRevocation left the CA dirty with the serial marked: its reminder issues the
            // CRL within a check period, reading this grain for the entry.
            LogCrlNotNotified(logger, e, this.GetPrimaryKeyString());
        }
        LogAudit(logger, (status == CertificateStatus.Revoked ? $"revoked:{reason}:" : "released:") + cause,
            this.GetPrimaryKeyString(), state.State.Intent!.SubjectDn, state.State.Intent.Owner);
    }

    public Task<CertificateRecord?> GetAsync() => Task.FromResult(state.State.Intent is null
        ? null
        : new CertificateRecord(state.State.Intent, state.State.Status, state.State.Der, state.State.RevocationReason,
            state.State.RevokedAt, state.State.RevocationCause, state.State.InvalidityDate));

    [LoggerMessage(EventId = 301, Level = LogLevel.Warning, Message = "certificate {Certificate}: the CA did not take the revocation change; its reminder will publish it")]
    private static partial void LogCrlNotNotified(ILogger logger, Exception exception, string certificate);

    [LoggerMessage(EventId = 302, Level = LogLevel.Error, Message = "certificate {Certificate}: refused to sign a TBSCertificate whose {Mismatch} differs from the recorded intent")]
    private static partial void LogRefused(ILogger logger, string certificate, string mismatch);

    [LoggerMessage(EventId = 300, Level = LogLevel.Information, Message = "audit certificate {Event} {Certificate} subject={Subject} owner={Owner}")]
    private static partial void LogAudit(ILogger logger, string @event, string certificate, string subject, string owner);
}
