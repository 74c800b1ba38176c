using CmpCluster.Contracts;
using CmpCluster.Grains.Handlers;
using CmpCluster.Protocol.Messages;
using Org.BouncyCastle.Asn1;
using Org.BouncyCastle.Asn1.Cmp;

namespace CmpCluster.Grains.Transactions;

/// <summary>The one place a handler's <see cref="Decision"/> becomes a response body; the engine protects and sends it.</summary>
public static class DecisionResponses
{
    /// <param name="decision">what the handler decided.</param>
    /// <param name="diagnosticId">the id under which the request was logged; error texts carry it.</param>
    /// <param name="pollCheckAfter">pollRep's checkAfter (Cmp:PollCheckAfter).</param>
    public static PkiBody Render(Decision decision, string diagnosticId, TimeSpan pollCheckAfter) => decision switch
    {
        Refusal refusal => CmpResponseBuilder.Error(refusal.Failure, diagnosticId),
        Fault fault => CmpResponseBuilder.Error(fault.Failure, diagnosticId),
        Issuance issued => CmpResponseBuilder.CertResponse(issued.ResponseType, DerInteger.ValueOf(issued.CertReqId), issued.Parsed, issued.CaPubs,
            issued.GrantedWithMods, issued.PrivateKey),
        // A pollRep changes nothing stored but the nonce chain: the client's next pollReq must answer this pollRep.
        Deferral { ResponseType: PkiBodyType.PollRep } deferred => CmpResponseBuilder.PollRep(deferred.CertReqId, Math.Max(1, (int)Math.Ceiling(pollCheckAfter.TotalSeconds)),
            deferred.Reason switch
            {
                WaitReason.Approval => "waiting for an operator's approval",
                WaitReason.Policy => "waiting for the enrollment policy",
                _ => "the CA is busy",
            }),
        Deferral deferred => CmpResponseBuilder.Waiting(deferred.ResponseType, DerInteger.ValueOf(deferred.CertReqId)),
        Confirmation { Failure: null } => CmpResponseBuilder.PkiConf(),
        Confirmation confirmation => CmpResponseBuilder.Error(confirmation.Failure, diagnosticId),
        RevocationReply revocation => CmpResponseBuilder.RevocationResponse(revocation.Failure, diagnosticId),
        InformationReply information => new PkiBody(PkiBody.TYPE_GEN_REP, new GenRepContent(information.Answers.ToArray())),
        NestedReply nested => new PkiBody(PkiBody.TYPE_NESTED, new PkiMessages(nested.Answers.Select(PkiMessage.GetInstance).ToArray())),
        _ => throw new InvalidOperationException($"no response for {decision.GetType().Name}"),
    };
}
