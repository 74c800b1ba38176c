using CmpCluster.Contracts;
using CmpCluster.Grains.Authentication;
using CmpCluster.Grains.Handlers;
using CmpCluster.Protocol;
using CmpCluster.Protocol.Messages;
using Microsoft.Extensions.Logging;
using Org.BouncyCastle.Math;

namespace CmpCluster.Grains.Transactions;

/// <summary>Delayed delivery, RFC 9483 §4.4: "waiting", then pollReq → pollRep until the final ip / cp / kup.</summary>
public sealed partial class CmpTransactionGrain
{
    /// <summary>
    /// A checked request that cannot be issued now. The first time, it is answered with status waiting and kept (its DER)
    /// for the pollReqs; a client-mode end entity's enrollment stays open meanwhile; a request that needs approval is listed
    /// for the operators. Deferred again at a poll (signing capacity still saturated), the answer is a pollRep.
    /// </summary>
    private async Task<Decision> DeferAsync(
        DecodedRequest request, EnrollmentRequest enrollmentRequest, PreparedEnrollment prepared, WaitReason reason, Authenticated authenticated)
    {
        state.State.WaitReason = reason;
        if (state.State.Phase == TransactionPhase.Waiting)
        {
            Advance(TransactionEvent.Polled);
            return new Deferral(PkiBodyType.PollRep, state.State.WaitingCertReqId, reason);
        }
        state.State.WaitingRequest = request.Der;
        state.State.WaitingCertReqId = prepared.CertReqId.LongValueExact;
        state.State.Username = authenticated.EndEntity?.Username;
        state.State.UpdatedCertificateKey = authenticated.Updated?.Key;
        state.State.WaitDeadline = time.GetUtcNow() + options.CurrentValue.MaxWaitTime;
        if (reason == WaitReason.Approval)
        {
            state.State.Approval = ApprovalDecision.Pending;
            await Approvals.AddAsync(new PendingApproval(TransactionKey, TransactionKey[..TransactionKey.IndexOf('/')], authenticated.Principal,
                prepared.Issuance.Subject.ToString(), enrollmentRequest.ProfileName ?? "-", request.BodyType, time.GetUtcNow()));
        }
        Advance(TransactionEvent.Deferred);
        LogWaiting(logger, TransactionKey, reason.ToString());
        return new Deferral(enrollmentRequest.ResponseType, state.State.WaitingCertReqId, reason);
    }

    /// <summary>pollReq: pollRep while the request still waits; the final answer once it can be issued (or was rejected).</summary>
    private async Task<Decision> PollAsync(Exchange exchange, DecodedRequest request, Authenticated authenticated)
    {
        if (request.PollIds is not [var id] || !id.Equals(BigInteger.ValueOf(state.State.WaitingCertReqId)) || state.State.WaitingRequest is not { } waiting)
        {
            throw new CmpFailureException(PkiFailureInfo.BadRequest, "pollReq must name the certReqId of the waiting request");
        }
        if (state.State.Approval == ApprovalDecision.Rejected)
        {
            await CloseWaitingAsync(TransactionEvent.ApprovalRejected);
            return new Refusal(new CmpFailure(PkiFailureInfo.NotAuthorized, "the request was not approved"));
        }
        if (state.State.Approval == ApprovalDecision.Pending)
        {
            Advance(TransactionEvent.Polled);
            return new Deferral(PkiBodyType.PollRep, state.State.WaitingCertReqId, WaitReason.Approval);
        }
        // The stored request is issued now, as the pollReq's answer; the poll's own authentication stands for the original's.
        DecodedRequest original = DecodedRequest.Decode(waiting, options.CurrentValue.Limits);
        Authenticated issuing = authenticated with
        {
            EndEntity = authenticated.EndEntity ?? await WaitingEndEntityAsync(),
            Updated = await WaitingUpdatedAsync(),
        };
        Decision decision = await EnrollAsync(exchange, original, issuing);
        if (state.State.Phase != TransactionPhase.Waiting)
        {
            state.State.WaitingRequest = null;
            state.State.WaitReason = null;
        }
        return decision;
    }

    public async Task<bool> DecideApprovalAsync(bool approve, string approver)
    {
        if (state.State.Phase != TransactionPhase.Waiting || state.State.Approval != ApprovalDecision.Pending)
        {
            return false;
        }
        state.State.Approval = approve ? ApprovalDecision.Approved : ApprovalDecision.Rejected;
        await PersistAsync();
        await Approvals.RemoveAsync(TransactionKey);
        LogApproval(logger, TransactionKey, approve ? "approved" : "rejected", approver);
        return true;
    }

    /// <summary>
    /// A waiting request ends (<paramref name="happened"/>: refused at a poll, rejected by an operator, or past its wait):
    /// the transaction closes, its approval entry goes, and a client-mode enrollment held open is given back.
    /// </summary>
    private async Task CloseWaitingAsync(TransactionEvent happened)
    {
        bool listed = state.State.Approval == ApprovalDecision.Pending;
        Advance(happened);
        if (listed)
        {
            await Approvals.RemoveAsync(TransactionKey);
        }
        await ReleaseEnrollmentAsync();
    }

    /// <summary>A client-mode enrollment or key update held open while its request waited is given back.</summary>
    private async Task ReleaseEnrollmentAsync()
    {
        if (state.State.Username is { } username)
        {
            await GrainFactory.GetGrain<IEndEntityGrain>(GrainKeys.EndEntity(username)).AbortEnrollmentAsync(TransactionKey);
        }
    }

    /// <summary>An RA's key update names its end entity in the request, not in the poll's authentication.</summary>
    private async Task<EndEntityView?> WaitingEndEntityAsync() =>
        state.State.UpdatedCertificateKey is not null && state.State.Username is { } username
            ? await GrainFactory.GetGrain<IEndEntityGrain>(GrainKeys.EndEntity(username)).GetAsync()
            : null;

    private async Task<CertificateRef?> WaitingUpdatedAsync() =>
        state.State.UpdatedCertificateKey is { } key && await GrainFactory.GetGrain<ICertificateGrain>(key).GetAsync() is { Der: { } der }
            ? new CertificateRef(key, der)
            : null;

    private IApprovalQueueGrain Approvals => GrainFactory.GetGrain<IApprovalQueueGrain>(GrainKeys.Approvals);

    [LoggerMessage(EventId = 203, Level = LogLevel.Information, Message = "cmp transaction={Transaction} answered waiting: {Reason}")]
    private static partial void LogWaiting(ILogger logger, string transaction, string reason);

    [LoggerMessage(EventId = 204, Level = LogLevel.Information, Message = "audit approval transaction={Transaction} {Decision} by {Approver}")]
    private static partial void LogApproval(ILogger logger, string transaction, string decision, string approver);
}
