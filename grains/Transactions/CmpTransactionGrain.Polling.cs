using CmpCluster.Contracts;
using CmpCluster.Grains.Authentication;
using CmpCluster.Grains.Handlers;
using CmpCluster.Grains.Pki;
using CmpCluster.Protocol;
using CmpCluster.Protocol.Configuration;
using CmpCluster.Protocol.Messages;
using Microsoft.Extensions.Logging;
using Org.BouncyCastle.Asn1.Cmp;
using Org.BouncyCastle.Math;

namespace CmpCluster.Grains.Transactions;

/// <summary>Delayed delivery, RFC 9483 §4.4: "waiting", then pollReq → pollRep until the final ip / cp / kup.</summary>
public sealed partial class CmpTransactionGrain
{
    /// <summary>
    /// Answers a checked request with status waiting and keeps it (its DER) for the pollReqs. A client-mode end entity's
    /// enrollment stays open meanwhile; a request that needs approval is listed for the operators.
    /// </summary>
    private async Task<Outcome> WaitAsync(
        DecodedRequest request, PreparedEnrollment prepared, WaitReason reason, CmpAliasOptions alias, string profileName, Authenticated authenticated)
    {
        bool polling = state.State.Phase == TransactionPhase.Waiting;
        state.State.WaitReason = reason;
        if (polling)
        {
            return PollRepOutcome(reason);
        }
        state.State.Phase = TransactionPhase.Waiting;
        state.State.WaitingRequest = request.Der;
        state.State.WaitingCertReqId = prepared.CertReqId.LongValueExact;
        state.State.Username = authenticated.EndEntity?.Username;
        state.State.UpdatedCertificateKey = authenticated.Updated?.Key;
        state.State.Outcome = reason == WaitReason.Approval ? "waiting for approval" : "waiting for signing capacity";
        state.State.WaitDeadline = time.GetUtcNow() + options.CurrentValue.MaxWaitTime;
        if (reason == WaitReason.Approval)
        {
            state.State.Approval = ApprovalDecision.Pending;
            await Approvals.AddAsync(new PendingApproval(TransactionKey, TransactionKey[..TransactionKey.IndexOf('/')], authenticated.Principal,
                prepared.Issuance.Subject.ToString(), profileName, request.BodyType, time.GetUtcNow()));
        }
        LogWaiting(logger, TransactionKey, reason.ToString());
        PkiBodyType responseType = ResponseTypeFor(request.BodyType);
        return new Outcome(CmpResponseBuilder.Waiting(responseType, prepared.CertReqId), Persist: true);
    }

    /// <summary>pollReq: pollRep while the request still waits; the final answer once it can be issued (or was rejected).</summary>
    private async Task<Outcome> PollAsync(DecodedRequest request, CmpAliasOptions alias, CertificateAuthorityKeys ca, Authenticated authenticated)
    {
        BigInteger[] ids = PollReqContent.GetInstance(request.Message.Body.Content).GetCertReqIDValues();
        if (ids is not [var id] || !id.Equals(BigInteger.ValueOf(state.State.WaitingCertReqId)) || state.State.WaitingRequest is not { } waiting)
        {
            throw new CmpFailureException(PkiFailureInfo.BadRequest, "pollReq must name the certReqId of the waiting request");
        }
        if (state.State.Approval == ApprovalDecision.Rejected)
        {
            await CloseWaitingAsync("rejected by an operator");
            await ReleaseEnrollmentAsync();
            var refused = new CmpFailure(PkiFailureInfo.NotAuthorized, "the request was not approved");
            return new Outcome(CmpResponseBuilder.Error(refused, _diagnosticId), Persist: true, Failure: refused);
        }
        if (state.State.Approval == ApprovalDecision.Pending)
        {
            return PollRepOutcome(WaitReason.Approval);
        }
        // The stored request is issued now, as the pollReq's answer; the poll's own authentication stands for the original's.
        DecodedRequest original = DecodedRequest.Decode(waiting, options.CurrentValue.Limits);
        Authenticated issuing = authenticated with
        {
            EndEntity = authenticated.EndEntity ?? await WaitingEndEntityAsync(),
            Updated = await WaitingUpdatedAsync(),
        };
        Outcome outcome = await EnrollAsync(original, alias, ca, issuing);
        if (state.State.Phase != TransactionPhase.Waiting)
        {
            state.State.WaitingRequest = null;
            state.State.WaitReason = null;
        }
        return outcome;
    }

    public async Task<bool> DecideApprovalAsync(bool approve, string approver)
    {
        if (state.State.Phase != TransactionPhase.Waiting || state.State.Approval != ApprovalDecision.Pending)
        {
            return false;
        }
        state.State.Approval = approve ? ApprovalDecision.Approved : ApprovalDecision.Rejected;
        await state.WriteStateAsync();
        await Approvals.RemoveAsync(TransactionKey);
        LogApproval(logger, TransactionKey, approve ? "approved" : "rejected", approver);
        return true;
    }

    private Outcome PollRepOutcome(WaitReason reason)
    {
        int checkAfter = Math.Max(1, (int)Math.Ceiling(options.CurrentValue.PollCheckAfter.TotalSeconds));
        string why = reason == WaitReason.Approval ? "waiting for an operator's approval" : "the CA is busy";
        // A pollRep changes nothing stored but the nonce chain: the client's next pollReq must answer this pollRep.
        return new Outcome(CmpResponseBuilder.PollRep(state.State.WaitingCertReqId, checkAfter, why), Persist: true);
    }

    private async Task CloseWaitingAsync(string outcome)
    {
        Close(outcome);
        state.State.WaitingRequest = null;
        state.State.WaitReason = null;
        if (state.State.Approval == ApprovalDecision.Pending)
        {
            await Approvals.RemoveAsync(TransactionKey);
        }
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

    private static PkiBodyType ResponseTypeFor(PkiBodyType request) => request switch
    {
        PkiBodyType.Ir => PkiBodyType.Ip,
        PkiBodyType.Kur => PkiBodyType.Kup,
        _ => PkiBodyType.Cp,
    };

    [LoggerMessage(EventId = 203, Level = LogLevel.Information, Message = "cmp transaction={Transaction} answered waiting: {Reason}")]
    private static partial void LogWaiting(ILogger logger, string transaction, string reason);

    [LoggerMessage(EventId = 204, Level = LogLevel.Information, Message = "audit approval transaction={Transaction} {Decision} by {Approver}")]
    private static partial void LogApproval(ILogger logger, string transaction, string decision, string approver);
}

/// <summary>How many issuances run in this silo right now, against Cmp:MaxConcurrentIssuances (0: no limit).</summary>
internal static class IssuanceCapacity
{
    private static int _inFlight;

    public static bool TryEnter(int max)
    {
        if (max <= 0)
        {
            return true;
        }
        if (Interlocked.Increment(ref _inFlight) <= max)
        {
            return true;
        }
        Interlocked.Decrement(ref _inFlight);
        return false;
    }

    public static void Exit(int max)
    {
        if (max > 0)
        {
            Interlocked.Decrement(ref _inFlight);
        }
    }
}
