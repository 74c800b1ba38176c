using CmpCluster.Contracts;
using Microsoft.Extensions.Logging;

namespace CmpCluster.Grains.Certificates;

[GenerateSerializer]
[Alias("CmpCluster.CertificateState")]
public sealed class CertificateState
{
    [Id(0)] public CertificateIntent? Intent { get; set; }
    [Id(1)] public CertificateStatus Status { get; set; }
    [Id(2)] public byte[]? Der { get; set; }
    [Id(3)] public RevocationReason? RevocationReason { get; set; }
    [Id(4)] public DateTimeOffset? RevokedAt { get; set; }
    [Id(5)] public string? RevocationCause { get; set; }
}

/// <summary>
/// One certificate record. Every change is written before the call returns; the storage ETag plus single
/// activation guarantee that a serial with a record is never reserved twice (DESIGN §5).
/// </summary>
public sealed partial class CertificateGrain(
    [PersistentState("certificate", GrainNames.Storage)] IPersistentState<CertificateState> state,
    TimeProvider time,
    ILogger<CertificateGrain> logger) : Grain, ICertificateGrain
{
    public async Task<bool> ReserveAsync(CertificateIntent intent)
    {
        if (state.RecordExists || state.State.Status != CertificateStatus.Unknown)
        {
            return false;
        }
        state.State.Intent = intent;
        state.State.Status = CertificateStatus.Reserved;
        await state.WriteStateAsync();
        LogAudit(logger, "reserved", this.GetPrimaryKeyString(), intent.SubjectDn, intent.Owner);
        return true;
    }

    public async Task StoreIssuedAsync(byte[] certificateDer, bool confirmed)
    {
        if (state.State.Status != CertificateStatus.Reserved)
        {
            throw new InvalidOperationException($"certificate {this.GetPrimaryKeyString()} is {state.State.Status}, not reserved");
        }
        state.State.Der = certificateDer;
        state.State.Status = confirmed ? CertificateStatus.Confirmed : CertificateStatus.AwaitingConfirmation;
        await state.WriteStateAsync();
        LogAudit(logger, confirmed ? "issued-confirmed" : "issued", this.GetPrimaryKeyString(), state.State.Intent!.SubjectDn, state.State.Intent.Owner);
    }

    public async Task<CertificateStatus> ConfirmAsync()
    {
        if (state.State.Status == CertificateStatus.AwaitingConfirmation)
        {
            state.State.Status = CertificateStatus.Confirmed;
            await state.WriteStateAsync();
            LogAudit(logger, "confirmed", this.GetPrimaryKeyString(), state.State.Intent!.SubjectDn, state.State.Intent.Owner);
        }
        return state.State.Status;
    }

    public async Task<CertificateStatus> RevokeAsync(RevocationReason reason, string cause)
    {
        if (state.State.Status is CertificateStatus.AwaitingConfirmation or CertificateStatus.Confirmed)
        {
            state.State.Status = CertificateStatus.Revoked;
            state.State.RevocationReason = reason;
            state.State.RevokedAt = time.GetUtcNow();
            state.State.RevocationCause = cause;
            await state.WriteStateAsync();
            LogAudit(logger, "revoked:" + cause, this.GetPrimaryKeyString(), state.State.Intent!.SubjectDn, state.State.Intent.Owner);
        }
        return state.State.Status;
    }

    public Task<CertificateRecord?> GetAsync() => Task.FromResult(state.State.Intent is null
        ? null
        : new CertificateRecord(state.State.Intent, state.State.Status, state.State.Der, state.State.RevocationReason,
            state.State.RevokedAt, state.State.RevocationCause));

    [LoggerMessage(EventId = 300, Level = LogLevel.Information, Message = "audit certificate {Event} {Certificate} subject={Subject} owner={Owner}")]
    private static partial void LogAudit(ILogger logger, string @event, string certificate, string subject, string owner);
}
