using System.Security.Cryptography;
using CmpCluster.Contracts;
using CmpCluster.Protocol.Client;
using Org.BouncyCastle.Asn1.X509;
using Xunit;
using PkiBodyType = CmpCluster.Contracts.PkiBodyType;

namespace CmpCluster.Tests.Grains;

/// <summary>
/// The issuance cycle's last step: a certificate not confirmed within the alias's confirm wait time (5 minutes by default)
/// is revoked. The tests move the silo's clock and call what the deadline sweeper calls, or the sweeper itself, instead
/// of waiting for its reminder.
/// </summary>
[Collection(CmpClusterCollection.Name)]
public sealed class ConfirmTimeoutTests(CmpClusterFixture cluster) : IDisposable
{
    private static readonly TimeSpan ConfirmWaitTime = TimeSpan.FromMinutes(5);

    private readonly ECDsa _key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
    private readonly CmpClientSession _session = CmpClusterFixture.NewSession();

    public void Dispose()
    {
        // The clock is shared with the other classes of the collection, which send real-time messageTimes.
        cluster.Clock.Reset();
        _key.Dispose();
    }

    private async Task<Exchange> EnrollAsync() =>
        await cluster.SendAsync(Aliases.Pbe, _session,
            _session.BuildEnrollment(initial: true, new X509Name($"CN=timeout-{Guid.NewGuid():N}"), _key));

    [Fact]
    public async Task Unconfirmed_certificate_is_revoked_once_the_confirm_wait_time_has_passed()
    {
        await EnrollAsync();
        DateTimeOffset deadline = (await cluster.SnapshotAsync(Aliases.Pbe, _session)).ConfirmDeadline!.Value;
        Assert.InRange(deadline - cluster.Clock.GetUtcNow(), ConfirmWaitTime - TimeSpan.FromMinutes(1), ConfirmWaitTime);

        cluster.Clock.Advance(ConfirmWaitTime + TimeSpan.FromSeconds(1));
        await cluster.Control(Aliases.Pbe, _session).ExpireIfDueAsync();

        CertificateRecord record = await cluster.IssuedCertificateAsync(Aliases.Pbe, _session);
        Assert.Equal(CertificateStatus.Revoked, record.Status);
        Assert.Equal(RevocationReason.CessationOfOperation, record.RevocationReason);
        Assert.NotNull(record.RevokedAt);
        Assert.True(record.RevokedAt >= deadline, "revoked no earlier than the deadline");
        TransactionSnapshot snapshot = await cluster.SnapshotAsync(Aliases.Pbe, _session);
        Assert.Equal(TransactionPhase.Closed, snapshot.Phase);
        Assert.Equal(TransactionOutcome.ConfirmationTimedOut, snapshot.Outcome);
        Assert.Null(snapshot.ConfirmDeadline);
    }

    [Fact]
    public async Task Before_the_deadline_the_check_changes_nothing()
    {
        await EnrollAsync();
        TransactionSnapshot before = await cluster.SnapshotAsync(Aliases.Pbe, _session);

        cluster.Clock.Advance(ConfirmWaitTime - TimeSpan.FromSeconds(30));
        await cluster.Control(Aliases.Pbe, _session).ExpireIfDueAsync();

        Assert.Equal(CertificateStatus.AwaitingConfirmation, (await cluster.IssuedCertificateAsync(Aliases.Pbe, _session)).Status);
        TransactionSnapshot after = await cluster.SnapshotAsync(Aliases.Pbe, _session);
        Assert.Equal(TransactionPhase.AwaitingConfirmation, after.Phase);
        Assert.Equal(before.ConfirmDeadline, after.ConfirmDeadline);
    }

    [Fact]
    public async Task A_certConf_just_before_the_deadline_still_confirms()
    {
        Exchange ip = await EnrollAsync();

        cluster.Clock.Advance(ConfirmWaitTime - TimeSpan.FromSeconds(30));
        Exchange conf = await cluster.SendAsync(Aliases.Pbe, _session, _session.BuildCertConf(ip.View.CertificateDer!));
        cluster.Clock.Advance(TimeSpan.FromMinutes(1));
        await cluster.Control(Aliases.Pbe, _session).ExpireIfDueAsync();

        Assert.Equal(PkiBodyType.PkiConf, conf.View.BodyType);
        Assert.Equal(CertificateStatus.Confirmed, (await cluster.IssuedCertificateAsync(Aliases.Pbe, _session)).Status);
    }

    [Fact]
    public async Task A_certConf_after_the_timeout_is_refused_and_the_certificate_stays_revoked()
    {
        Exchange ip = await EnrollAsync();
        cluster.Clock.Advance(ConfirmWaitTime + TimeSpan.FromSeconds(1));
        await cluster.Control(Aliases.Pbe, _session).ExpireIfDueAsync();

        Exchange late = await cluster.SendAsync(Aliases.Pbe, _session, _session.BuildCertConf(ip.View.CertificateDer!));

        Assert.Equal(PkiBodyType.Error, late.View.BodyType);
        ProtocolAssert.AnswersLastRequest(late.View, _session);
        Assert.Equal(CertificateStatus.Revoked, (await cluster.IssuedCertificateAsync(Aliases.Pbe, _session)).Status);
    }

    [Fact]
    public async Task Expiring_twice_is_harmless()
    {
        await EnrollAsync();
        cluster.Clock.Advance(ConfirmWaitTime + TimeSpan.FromSeconds(1));
        ITransactionControlGrain transaction = cluster.Control(Aliases.Pbe, _session);

        await transaction.ExpireIfDueAsync();
        CertificateRecord first = await cluster.IssuedCertificateAsync(Aliases.Pbe, _session);
        await transaction.ExpireIfDueAsync();

        CertificateRecord second = await cluster.IssuedCertificateAsync(Aliases.Pbe, _session);
        Assert.Equal(CertificateStatus.Revoked, second.Status);
        Assert.Equal(first.RevokedAt, second.RevokedAt);
    }

    [Fact]
    public async Task A_deadline_is_indexed_exactly_while_a_certificate_awaits_confirmation()
    {
        Exchange ip = await EnrollAsync();
        Assert.True(await cluster.HasDeadlineAsync(Aliases.Pbe, _session));

        await cluster.SendAsync(Aliases.Pbe, _session, _session.BuildCertConf(ip.View.CertificateDer!));

        Assert.False(await cluster.HasDeadlineAsync(Aliases.Pbe, _session));
    }

    [Fact]
    public async Task The_deadline_sweeper_revokes_an_unconfirmed_certificate_and_the_deadline_leaves_the_index()
    {
        await EnrollAsync();
        cluster.Clock.Advance(ConfirmWaitTime + TimeSpan.FromSeconds(1));

        SweepResult sweep = await cluster.SweepAsync();

        Assert.True(sweep.Due >= 1);
        Assert.Equal(CertificateStatus.Revoked, (await cluster.IssuedCertificateAsync(Aliases.Pbe, _session)).Status);
        Assert.Equal(TransactionPhase.Closed, (await cluster.SnapshotAsync(Aliases.Pbe, _session)).Phase);
        Assert.False(await cluster.HasDeadlineAsync(Aliases.Pbe, _session));
    }

    [Fact]
    public async Task Before_the_deadline_the_sweeper_leaves_the_transaction_alone()
    {
        await EnrollAsync();
        cluster.Clock.Advance(ConfirmWaitTime - TimeSpan.FromSeconds(30));

        await cluster.SweepAsync();

        Assert.Equal(CertificateStatus.AwaitingConfirmation, (await cluster.IssuedCertificateAsync(Aliases.Pbe, _session)).Status);
        Assert.True(await cluster.HasDeadlineAsync(Aliases.Pbe, _session));
    }
}
