using System.Security.Cryptography;
using CmpCluster.Contracts;
using CmpCluster.Protocol.Client;
using Org.BouncyCastle.Asn1.Cmp;
using Org.BouncyCastle.Asn1.X509;
using Xunit;
using PkiBodyType = CmpCluster.Contracts.PkiBodyType;
using PkiFailureInfo = CmpCluster.Contracts.PkiFailureInfo;

namespace CmpCluster.Tests.Grains;

/// <summary>Delayed delivery, RFC 9483 §4.4: a profile that requires approval answers "waiting"; pollReq → pollRep until decided.</summary>
[Collection(CmpClusterCollection.Name)]
public sealed class DelayedDeliveryTests(CmpClusterFixture cluster) : IDisposable
{
    private readonly ECDsa _key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
    private readonly CmpClientSession _session = CmpClusterFixture.NewSession();

    public void Dispose() => _key.Dispose();

    private string TransactionKey => GrainKeys.Transaction(Aliases.Approval, _session.TransactionId);

    private async Task<Exchange> WaitingIrAsync()
    {
        Exchange ip = await cluster.SendAsync(Aliases.Approval, _session,
            _session.BuildEnrollment(true, new X509Name($"CN=approval-{Guid.NewGuid():N},O=Example"), _key));
        Assert.Equal(PkiBodyType.Ip, ip.View.BodyType);
        Assert.Equal((int)PkiStatus.Waiting, ip.View.Status!.Status.IntValueExact);
        Assert.Null(ip.View.CertificateDer);
        Assert.True(_session.VerifyMac(ip.Response));
        return ip;
    }

    private Task<Exchange> PollAsync(long certReqId = 0) => cluster.SendAsync(Aliases.Approval, _session, _session.BuildPollReq(certReqId));

    private Task<bool> DecideAsync(bool approve) => cluster.Control(Aliases.Approval, _session).DecideApprovalAsync(approve, "test operator");

    [Fact]
    public async Task A_request_waits_is_listed_polls_and_is_issued_once_approved()
    {
        await WaitingIrAsync();
        Assert.Equal(TransactionPhase.Waiting, (await cluster.SnapshotAsync(Aliases.Approval, _session)).Phase);
        PendingApproval pending = Assert.Single(await cluster.Internal.GetGrain<IApprovalQueueGrain>(GrainKeys.Approvals).ListAsync(),
            p => p.TransactionKey == TransactionKey);
        Assert.Equal("approval", pending.Profile);

        Exchange pollRep = await PollAsync();
        Assert.Equal(PkiBodyType.PollRep, pollRep.View.BodyType);
        Assert.True(pollRep.View.PollCheckAfter >= 1);
        ProtocolAssert.AnswersLastRequest(pollRep.View, _session);
        Assert.Empty((await cluster.SnapshotAsync(Aliases.Approval, _session)).CertificateKeys);

        Assert.True(await DecideAsync(approve: true));
        Assert.DoesNotContain(await cluster.Internal.GetGrain<IApprovalQueueGrain>(GrainKeys.Approvals).ListAsync(), p => p.TransactionKey == TransactionKey);
        Exchange ip = await PollAsync();

        byte[] certificate = ProtocolAssert.Granted(ip.View, PkiBodyType.Ip);
        ProtocolAssert.AnswersLastRequest(ip.View, _session);
        Exchange confirmation = await cluster.SendAsync(Aliases.Approval, _session, _session.BuildCertConf(certificate));
        Assert.Equal(PkiBodyType.PkiConf, confirmation.View.BodyType);
        Assert.Equal(CertificateStatus.Confirmed, (await cluster.IssuedCertificateAsync(Aliases.Approval, _session)).Status);
    }

    [Fact]
    public async Task A_rejected_request_ends_with_notAuthorized_and_issues_nothing()
    {
        await WaitingIrAsync();
        Assert.True(await DecideAsync(approve: false));
        Assert.False(await DecideAsync(approve: true)); // decided once

        Exchange error = await PollAsync();

        ProtocolAssert.Rejected(error.View, PkiFailureInfo.NotAuthorized);
        TransactionSnapshot snapshot = await cluster.SnapshotAsync(Aliases.Approval, _session);
        Assert.Equal(TransactionPhase.Closed, snapshot.Phase);
        Assert.Equal(TransactionOutcome.ApprovalRejected, snapshot.Outcome);
        Assert.Empty(snapshot.CertificateKeys);
    }

    [Fact]
    public async Task A_pollReq_for_another_certReqId_is_badRequest_and_ends_the_wait()
    {
        await WaitingIrAsync();

        ProtocolAssert.Rejected((await PollAsync(certReqId: 7)).View, PkiFailureInfo.BadRequest);

        TransactionSnapshot snapshot = await cluster.SnapshotAsync(Aliases.Approval, _session);
        Assert.Equal(TransactionPhase.Closed, snapshot.Phase);
        Assert.Equal(TransactionOutcome.RefusedWhileWaiting, snapshot.Outcome);
        Assert.DoesNotContain(await cluster.Internal.GetGrain<IApprovalQueueGrain>(GrainKeys.Approvals).ListAsync(), p => p.TransactionKey == TransactionKey);
    }

    [Fact]
    public async Task A_request_that_can_never_be_granted_is_refused_at_once_not_made_to_wait()
    {
        Exchange error = await cluster.SendAsync(Aliases.Approval, _session,
            _session.BuildEnrollment(true, new X509Name("CN=bad-pop,O=Example"), _key, pop: PopKind.WrongKeySignature));

        ProtocolAssert.Rejected(error.View, PkiFailureInfo.BadPop);
        TransactionSnapshot snapshot = await cluster.SnapshotAsync(Aliases.Approval, _session);
        Assert.Equal(TransactionPhase.Closed, snapshot.Phase);
        Assert.Equal(TransactionOutcome.Refused, snapshot.Outcome);
    }

    [Fact]
    public async Task While_waiting_a_new_request_on_the_transactionID_is_transactionIdInUse()
    {
        await WaitingIrAsync();

        Exchange error = await cluster.SendAsync(Aliases.Approval, _session, _session.BuildCertConf([0x30, 0x00]));

        ProtocolAssert.Rejected(error.View, PkiFailureInfo.TransactionIdInUse);
        Assert.Equal(TransactionPhase.Waiting, (await cluster.SnapshotAsync(Aliases.Approval, _session)).Phase);
    }

    [Fact]
    public async Task A_pollReq_without_a_waiting_request_is_badRequest()
    {
        ProtocolAssert.Rejected((await PollAsync()).View, PkiFailureInfo.BadRequest);
    }
}
