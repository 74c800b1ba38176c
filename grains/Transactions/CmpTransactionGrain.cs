using System.Diagnostics;
using System.Security.Cryptography;
using CmpCluster.Contracts;
using CmpCluster.Grains.Authentication;
using CmpCluster.Grains.EndEntities;
using CmpCluster.Grains.Handlers;
using CmpCluster.Grains.Pki;
using CmpCluster.Grains.Telemetry;
using CmpCluster.Protocol;
using CmpCluster.Protocol.Configuration;
using CmpCluster.Protocol.Messages;
using CmpCluster.Protocol.Validation;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Org.BouncyCastle.Asn1.Cmp;
using Org.BouncyCastle.Asn1.Crmf;
using Org.BouncyCastle.Asn1.X509;

namespace CmpCluster.Grains.Transactions;

/// <summary>
/// The protocol engine of one transaction: duplicates, nonces, phase, implicitConfirm, certConf and the confirm
/// timeout live here; handlers make the business decisions. Not reentrant: one message at a time. A closed transaction
/// deactivates at once (<see cref="PersistAsync"/>); an open one that is abandoned goes after two idle minutes, its
/// deadline still in the store's index.
/// </summary>
[CollectionAgeLimit(Minutes = 2)]
public sealed partial class CmpTransactionGrain(
    [PersistentState(CmpTransactionGrain.StateName, GrainNames.Transactions)] IPersistentState<TransactionState> state,
    IOptionsMonitor<CmpOptions> options,
    PkiKeyRing keys,
    ResponseProtectors protectors,
    RequestAuthenticator authenticator,
    EnrollmentHandler enrollment,
    CertConfHandler certConf,
    RevocationHandler revocation,
    GenmHandler genm,
    Audit.IAuditTrail audit,
    DeadlineSweeperKickoff sweeper,
    TimeProvider time,
    ILogger<CmpTransactionGrain> logger) : Grain, ICmpTransactionGrain, ITransactionControlGrain
{
    /// <summary>The state name under <see cref="GrainNames.Transactions"/>; the Redis store indexes deadlines by it.</summary>
    public const string StateName = "transaction";

    private sealed record Outcome(PkiBody Body, bool Persist, bool ImplicitConfirm = false, CmpFailure? Failure = null);

    /// <summary>The diagnostic id of the request being handled (the grain is not reentrant: one request at a time).</summary>
    private string _diagnosticId = "";

    /// <summary>SHA-256 of the request being handled.</summary>
    private byte[] _requestHash = [];

    public Task<byte[]> HandleAsync(CmpRequest request) => HandleAsync(request, insideTrustedNested: false);

    /// <summary>Only this engine calls it, for the inner messages of a nested message whose RA it verified.</summary>
    public Task<byte[]> HandleNestedAsync(CmpRequest request) => HandleAsync(request, insideTrustedNested: true);

    private async Task<byte[]> HandleAsync(CmpRequest request, bool insideTrustedNested)
    {
        // The grain key names the alias; a request that names another is a wiring fault (or a forged call), never served.
        if (!TransactionKey.StartsWith(request.Alias + "/", StringComparison.Ordinal))
        {
            throw new ArgumentException($"request for alias '{request.Alias}' sent to transaction {TransactionKey}");
        }
        long started = Stopwatch.GetTimestamp();
        using Activity? activity = GrainTelemetry.Source.StartActivity("cmp.request");
        _diagnosticId = GrainTelemetry.NewDiagnosticId(activity ?? Activity.Current);
        activity?.SetTag("cmp.alias", request.Alias);
        activity?.SetTag("cmp.transaction", TransactionKey);
        // An identical retransmission of the last request gets the identical stored response: no crypto, no new certificate.
        byte[] requestHash = SHA256.HashData(request.Der);
        _requestHash = requestHash;
        if (state.State.LastRequestHash is { } last && state.State.LastResponse is { } stored && CryptographicOperations.FixedTimeEquals(last, requestHash))
        {
            Summarize(activity, request.Alias, "-", "duplicate", "duplicate", null, started);
            return stored;
        }

        CmpOptions settings = options.CurrentValue;
        // The gateway answers unknown aliases with 404; reaching here without one is a wiring fault, not a CMP error.
        CmpAliasOptions alias = settings.Aliases.GetValueOrDefault(request.Alias)
            ?? throw new ArgumentException($"unknown alias '{request.Alias}'");
        // Errors before the request names its CA (KeyID) are signed by the alias's CA, or the first this silo has.
        CertificateAuthorityKeys ca = keys.FindAuthority(alias.Ca) ?? keys.Authorities.First();
        TransactionPhase phaseBefore = state.State.Phase;
        DecodedRequest? decoded = null;
        Authenticated? authenticated = null;
        Outcome outcome;
        try
        {
            // The alias's own MAC floors and messageTime window over Cmp:Limits (RFC 9483 §3.1, §3.2).
            CmpLimits limits = settings.Limits.For(alias);
            decoded = DecodedRequest.Decode(request.Der, limits);
            HeaderValidator.Validate(decoded, limits, time.GetUtcNow());
            ca = ResolveCa(alias, decoded);
            if (TransactionRules.Admit(state.State.Phase, decoded.BodyType, decoded.RecipNonce, state.State.LastSenderNonce) is { } refused)
            {
                // Refused before authentication: answer, but never let it touch the stored transaction.
                throw new CmpFailureException(refused);
            }
            authenticated = state.State.Protection is { } first
                ? await authenticator.AuthenticateFollowUpAsync(decoded, alias, limits, TransactionKey, first, state.State.Username, insideTrustedNested)
                : await authenticator.AuthenticateAsync(decoded, alias, limits, TransactionKey, insideTrustedNested);
            CheckSameProtection(authenticated);
            outcome = await DispatchAsync(decoded, alias, ca, authenticated);
        }
        catch (CmpFailureException e)
        {
            if (authenticated is null && e.Failure.FailInfo is PkiFailureInfo.BadMessageCheck or PkiFailureInfo.NotAuthorized
                or PkiFailureInfo.SignerNotTrusted or PkiFailureInfo.WrongIntegrity)
            {
                await AuditAuthenticationFailureAsync(request.Alias, e.Failure);
            }
            await AbortOpenEnrollmentAsync(authenticated, phaseBefore);
            // An authenticated poll that fails ends the waiting request: RFC 9810 §5.3.21, an error closes the transaction.
            bool endsWaiting = authenticated is not null && phaseBefore == TransactionPhase.Waiting;
            if (endsWaiting)
            {
                await CloseWaitingAsync("failed while waiting");
                await ReleaseEnrollmentAsync();
            }
            // An authenticated request that fails closes a new transaction (its retransmission gets the same error);
            // a failing follow-up never overwrites what an open transaction stored.
            outcome = new Outcome(CmpResponseBuilder.Error(e.Failure, _diagnosticId),
                Persist: authenticated is not null && (phaseBefore == TransactionPhase.New || endsWaiting), Failure: e.Failure);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // Internal detail stays in the log; the client learns only that the system failed.
            await AbortOpenEnrollmentAsync(authenticated, phaseBefore);
            await state.ReadStateAsync();
            // The CA refuses to sign what it cannot record: a client may retry later (systemUnavail, RFC 9810 §5.2.3).
            var failure = e is Audit.AuditUnavailableException
                ? new CmpFailure(PkiFailureInfo.SystemUnavail, "the CA cannot record this operation now; retry later")
                : new CmpFailure(PkiFailureInfo.SystemFailure, "internal error");
            outcome = new Outcome(CmpResponseBuilder.Error(failure, _diagnosticId), Persist: false, Failure: failure);
            LogFailure(logger, e, request.Alias, TransactionKey, _diagnosticId);
        }

        ResponseContext context = decoded is null
            ? ResponseContext.Undecoded(KeyTransactionId())
            : ResponseContext.For(decoded);
        BuiltResponse response = await CmpResponseBuilder.BuildAsync(
            context, outcome.Body, protectors.For(alias, ca, authenticated), time.GetUtcNow(), outcome.ImplicitConfirm);

        if (outcome.Persist)
        {
            // Written before the answer leaves the grain: what a client was told is never lost.
            state.State.LastRequestHash = requestHash;
            state.State.LastResponse = response.Der;
            state.State.LastSenderNonce = response.SenderNonce;
            state.State.Protection ??= authenticated?.Kind;
            state.State.SenderKid ??= authenticated?.SenderKid;
            if (outcome.Body.Type == PkiBody.TYPE_ERROR && state.State.Phase == TransactionPhase.New)
            {
                Close("rejected");
            }
            // One write carries the state, its deadline (indexed by the store with it) and, once closed, its expiry.
            await PersistAsync();
        }
        string body = decoded?.BodyType.ToString() ?? "undecodable";
        string result = outcome.Failure is null ? "ok" : outcome.Failure.FailInfo == PkiFailureInfo.SystemFailure ? "failed" : "rejected";
        activity?.SetTag("cmp.body", body);
        activity?.SetTag("cmp.ca", ca.Name);
        Summarize(activity, request.Alias, body, result, outcome.Failure?.ToString() ?? "ok", outcome.Failure, started);
        return response.Der;
    }

    /// <summary>One summary event, metric and span status per request, all carrying the same diagnostic id.</summary>
    private void Summarize(Activity? activity, string alias, string body, string result, string detail, CmpFailure? failure, long started)
    {
        double elapsed = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        string failInfo = failure?.FailInfo.ToString() ?? "none";
        GrainTelemetry.Requests.Add(1, new("alias", alias), new("body", body), new("outcome", result), new("fail_info", failInfo));
        GrainTelemetry.RequestDuration.Record(elapsed, new("alias", alias), new("body", body), new("outcome", result));
        if (failure is not null)
        {
            activity?.SetTag("cmp.fail_info", failInfo);
            activity?.SetStatus(ActivityStatusCode.Error, failInfo);
        }
        LogRequest(logger, alias, TransactionKey, body, result, detail, _diagnosticId, elapsed);
    }

    /// <summary>One dispatch over the body type; <see cref="BodyDispatch"/> proves every type has a route.</summary>
    private async Task<Outcome> DispatchAsync(DecodedRequest request, CmpAliasOptions alias, CertificateAuthorityKeys ca, Authenticated authenticated) =>
        BodyDispatch.Route(request.BodyType) switch
        {
            BodyRoute.Enrollment => await EnrollAsync(request, alias, ca, authenticated),
            BodyRoute.Confirmation => await ConfirmAsync(request, alias),
            BodyRoute.Revocation => await RevokeAsync(request, alias, authenticated),
            BodyRoute.General => await GeneralAsync(request, alias, ca, authenticated),
            BodyRoute.Polling => await PollAsync(request, alias, ca, authenticated),
            BodyRoute.Nested => await NestedAsync(request, alias, settings: options.CurrentValue),
            BodyRoute.NotSupportedYet => throw new CmpFailureException(PkiFailureInfo.BadRequest, $"{request.BodyType} is not supported yet"),
            _ => throw new CmpFailureException(PkiFailureInfo.BadRequest, $"{request.BodyType} is not a request"),
        };

    private async Task<Outcome> EnrollAsync(DecodedRequest request, CmpAliasOptions alias, CertificateAuthorityKeys ca, Authenticated authenticated)
    {
        // Client mode issues with the end entity's registered profile; RA mode with the alias's (or the senderKID's: KeyID).
        string profileName = authenticated.EndEntity?.CertificateProfile
            ?? (alias.CertificateProfile == CmpAliasOptions.KeyId ? KeyIdOf(request) : alias.CertificateProfile);
        CertificateProfileOptions profile = options.CurrentValue.Profiles.GetValueOrDefault(profileName)
            ?? throw new CmpFailureException(PkiFailureInfo.NotAuthorized, $"certificate profile '{profileName}' is not available");
        // RFC 9810 §5.1.1.1: implicitConfirm is granted only when asked for and allowed.
        bool implicitConfirm = request.ImplicitConfirmRequested && alias.AllowImplicitConfirm;
        var messages = CertReqMessages.GetInstance(request.Message.Body.Content);
        // RA mode: the end entity is named before anything is issued, so a name that cannot be made refuses the request.
        string? raUsername = alias.Mode == AliasMode.Ra && authenticated.EndEntity is null && messages.ToCertReqMsgArray() is [{ CertReq.CertTemplate.Subject: { } subject }]
            ? RaNames.Generate(alias, subject)
            : null;
        var enrollmentRequest = new EnrollmentRequest(
            messages, alias, ca, profile, authenticated.Principal, TransactionKey, implicitConfirm, authenticated.EndEntity,
            authenticated.Updated, raUsername, profileName, authenticated.VendorIssuer);
        // RFC 9483 §4.4: an approval rule or a saturated signer makes the request wait; it is checked (POP included) first,
        // so what can never be granted is refused now rather than after the wait.
        WaitReason? wait = profile.RequireApproval && state.State.Approval != ApprovalDecision.Approved ? WaitReason.Approval : null;
        int capacity = options.CurrentValue.MaxConcurrentIssuances;
        if (wait is not null || !IssuanceCapacity.TryEnter(capacity))
        {
            PreparedEnrollment prepared = enrollment.Prepare(enrollmentRequest);
            return await WaitAsync(request, prepared, wait ?? WaitReason.Capacity, alias, profileName, authenticated);
        }
        EnrollmentResult result;
        try
        {
            result = await enrollment.HandleAsync(enrollmentRequest, ResumableIssuance(), key => RecordIssuingAsync(key, alias));
        }
        finally
        {
            IssuanceCapacity.Exit(capacity);
        }
        X509CertificateStructure certificate = X509CertificateStructure.GetInstance(result.Certificate.Der);
        bool keyUpdate = authenticated.Updated is not null;
        DateTimeOffset confirmDeadline = time.GetUtcNow() + alias.ConfirmWaitTime;
        if (authenticated.EndEntity is { } endEntity)
        {
            // Issued: the one-time code is consumed before the answer leaves (status GENERATED). A key update keeps the end
            // entity's enrollment open until certConf or the timeout, so a second update cannot overlap it.
            DateTimeOffset? holdUntil = keyUpdate && !implicitConfirm ? confirmDeadline + options.CurrentValue.ConfirmCheckPeriod + TimeSpan.FromMinutes(1) : null;
            await GrainFactory.GetGrain<IEndEntityGrain>(GrainKeys.EndEntity(endEntity.Username))
                .CompleteEnrollmentAsync(TransactionKey, result.Certificate.Key, holdUntil);
            state.State.Username = endEntity.Username;
            state.State.UpdatedCertificateKey = authenticated.Updated?.Key;
        }
        else if (raUsername is not null)
        {
            // EJBCA's CMP documentation, "RA mode for CMP": the end entity is created, or updated and re-issued when the name exists.
            await GrainFactory.GetGrain<IEndEntityGrain>(GrainKeys.EndEntity(raUsername)).RecordRaIssuanceAsync(
                new EndEntityRegistration(certificate.Subject.ToString(), [], ca.Name, profileName, "default", null), result.Certificate.Key);
            state.State.Username = raUsername;
        }

        PkiBodyType responseType = ResponseTypeFor(request.BodyType);
        X509CertificateStructure[] caPubs = alias.IncludeRootInCaPubs ? [ca.Root] : [];
        state.State.CertificateKeys.Add(result.Certificate.Key);
        state.State.IssuingCertificateKey = null;
        state.State.IssuingRequestHash = null;
        if (implicitConfirm)
        {
            Close("implicitly confirmed");
            await FinishKeyUpdateAsync(alias, newCertificateConfirmed: true);
        }
        else
        {
            state.State.Phase = TransactionPhase.AwaitingConfirmation;
            state.State.Pending = [new PendingCertificate(result.CertReqId.LongValueExact, result.Certificate.Key, result.Certificate.Der)];
            state.State.ConfirmDeadline = confirmDeadline;
        }
        return new Outcome(CmpResponseBuilder.CertResponse(responseType, result.CertReqId, certificate, caPubs), Persist: true, implicitConfirm);
    }

    private async Task<Outcome> ConfirmAsync(DecodedRequest request, CmpAliasOptions alias)
    {
        (CmpFailure? failure, IReadOnlyList<string> confirmed) = await certConf.HandleAsync(
            CertConfirmContent.GetInstance(request.Message.Body.Content), state.State.Pending);
        await FinishKeyUpdateAsync(alias, newCertificateConfirmed: confirmed.Count > 0);
        Close(failure is null ? "confirmed" : "confirmation failed");
        return failure is null
            ? new Outcome(CmpResponseBuilder.PkiConf(), Persist: true)
            : new Outcome(CmpResponseBuilder.Error(failure, _diagnosticId), Persist: true, Failure: failure);
    }

    /// <summary>
    /// Write-ahead (the issuance cycle, grains/Certificates/CertificateIssuer.cs): the reserved serial is recorded (phase Issuing, with a
    /// deadline the store indexes in the same write) before anything is signed. A crash after signing then leaves a
    /// transaction that knows its certificate: the same request resumes it, and otherwise the deadline sweeper revokes it.
    /// It never leaves a second signature.
    /// </summary>
    private async Task RecordIssuingAsync(string certificateKey, CmpAliasOptions alias)
    {
        state.State.Phase = TransactionPhase.Issuing;
        state.State.IssuingCertificateKey = certificateKey;
        state.State.IssuingRequestHash = _requestHash;
        state.State.ConfirmDeadline = time.GetUtcNow() + alias.ConfirmWaitTime;
        await state.WriteStateAsync();
    }

    /// <summary>The serial an interrupted attempt reserved, when this request is that attempt's retransmission.</summary>
    private string? ResumableIssuance()
    {
        if (state.State.Phase != TransactionPhase.Issuing)
        {
            return null;
        }
        return state.State.IssuingRequestHash is { } hash && CryptographicOperations.FixedTimeEquals(hash, _requestHash)
            ? state.State.IssuingCertificateKey
            : throw new CmpFailureException(PkiFailureInfo.TransactionIdInUse, "transactionID is in use");
    }

    /// <summary>rr: the handler decides; the transaction closes with its rp, accepted or rejected (RFC 9483 §4.2).</summary>
    private async Task<Outcome> RevokeAsync(DecodedRequest request, CmpAliasOptions alias, Authenticated authenticated)
    {
        RevocationOutcome result = await revocation.HandleAsync(RevReqContent.GetInstance(request.Message.Body.Content), alias, authenticated, TransactionKey);
        Close(result.Failure is null ? $"revoked ({result.Reason})" : "revocation refused");
        if (result.CertificateKey is { } key)
        {
            state.State.CertificateKeys.Add(key);
        }
        return new Outcome(CmpResponseBuilder.RevocationResponse(result.Failure, _diagnosticId), Persist: true, Failure: result.Failure);
    }

    /// <summary>genm → genp (RFC 9483 §4.3); the transaction closes with it.</summary>
    private async Task<Outcome> GeneralAsync(DecodedRequest request, CmpAliasOptions alias, CertificateAuthorityKeys ca, Authenticated authenticated)
    {
        string? profileName = authenticated.EndEntity?.CertificateProfile
            ?? (alias.CertificateProfile == CmpAliasOptions.KeyId ? (request.SenderKid is null ? null : KeyIdOf(request)) : alias.CertificateProfile);
        PkiBody body = await genm.HandleAsync(GenMsgContent.GetInstance(request.Message.Body.Content), alias, ca, profileName);
        Close("general response");
        return new Outcome(body, Persist: true);
    }

    /// <summary>
    /// The end of a key update's confirmation: the updated certificate is revoked as superseded when the new one was
    /// confirmed and the alias asks for it, and the end entity's held enrollment is released either way.
    /// </summary>
    private async Task FinishKeyUpdateAsync(CmpAliasOptions? alias, bool newCertificateConfirmed)
    {
        if (state.State.UpdatedCertificateKey is not { } updated || state.State.Username is not { } username)
        {
            return;
        }
        if (newCertificateConfirmed && alias?.RevokeUpdatedCertificate == true)
        {
            await GrainFactory.GetGrain<ICertificateGrain>(updated).RevokeAsync(
                new RevocationRequest(RevocationReason.Superseded, $"updated by {TransactionKey}"));
        }
        await GrainFactory.GetGrain<IEndEntityGrain>(GrainKeys.EndEntity(username)).AbortEnrollmentAsync(TransactionKey);
    }

    /// <summary>The alias's CA, or with KeyID the CA the request's senderKID names (EJBCA's CMP documentation: "KeyID"); unknown: wrongAuthority.</summary>
    private CertificateAuthorityKeys ResolveCa(CmpAliasOptions alias, DecodedRequest request)
    {
        string name = alias.Ca == CmpAliasOptions.KeyId ? KeyIdOf(request) : alias.Ca;
        return keys.FindAuthority(name)
            ?? throw new CmpFailureException(PkiFailureInfo.WrongAuthority, $"CA '{name}' is not served here");
    }

    private static string KeyIdOf(DecodedRequest request) => request.SenderKid is { } kid
        ? System.Text.Encoding.UTF8.GetString(kid)
        : throw new CmpFailureException(PkiFailureInfo.BadRequest, "this alias takes the CA or profile from the senderKID, and there is none");

    /// <summary>A client-mode enrollment opened for this request but answered with an error releases the end entity.</summary>
    private async Task AbortOpenEnrollmentAsync(Authenticated? authenticated, TransactionPhase phaseBefore)
    {
        if (phaseBefore == TransactionPhase.New && authenticated?.EndEntity is { } endEntity)
        {
            await GrainFactory.GetGrain<IEndEntityGrain>(GrainKeys.EndEntity(endEntity.Username)).AbortEnrollmentAsync(TransactionKey);
        }
    }

    private string TransactionKey => this.GetPrimaryKeyString();

    /// <summary>A request that failed authentication, for the audit trail; best effort, since the answer is an error anyway.</summary>
    private async Task AuditAuthenticationFailureAsync(string alias, CmpFailure failure)
    {
        try
        {
            await audit.AppendAsync(new Audit.AuditEvent(Audit.AuditEventType.AuthenticationFailed, $"alias {alias}", TransactionKey,
                $"{failure.FailInfo} diagnostic={_diagnosticId}"));
        }
        catch (Audit.AuditUnavailableException)
        {
            LogAuditUnavailable(logger, TransactionKey);
        }
    }

    /// <summary>RFC 9810 §5.1.3: a transaction keeps the protection it started with (wrongIntegrity otherwise).</summary>
    private void CheckSameProtection(Authenticated authenticated)
    {
        if (state.State.Protection is { } kind && (kind != authenticated.Kind ||
            !(state.State.SenderKid ?? []).AsSpan().SequenceEqual(authenticated.SenderKid ?? [])))
        {
            throw new CmpFailureException(PkiFailureInfo.WrongIntegrity, "protection differs from the start of the transaction");
        }
    }

    /// <summary>
    /// Called by the deadline sweeper (<see cref="DeadlineSweeperGrain"/>) once <see cref="TransactionState.DueAt"/> passed:
    /// unconfirmed certificates are revoked (RFC 9810 §5.3.18: the CA may revoke what was not confirmed), an issuance a
    /// crash interrupted is revoked, a request that waited too long is rejected. Idempotent: nothing due, nothing done.
    /// </summary>
    public async Task ExpireIfDueAsync()
    {
        if (state.State.DueAt is not { } due || due > time.GetUtcNow())
        {
            return;
        }
        switch (state.State.Phase)
        {
            case TransactionPhase.Issuing:
                // An issuance a crash interrupted and nobody retried: whatever it signed was never delivered.
                if (state.State.IssuingCertificateKey is { } orphan)
                {
                    await GrainFactory.GetGrain<ICertificateGrain>(orphan).RevokeAsync(new RevocationRequest(RevocationReason.CessationOfOperation, "issuance interrupted"));
                }
                await FinishKeyUpdateAsync(alias: null, newCertificateConfirmed: false);
                Close("issuance interrupted");
                break;
            case TransactionPhase.AwaitingConfirmation:
                foreach (PendingCertificate pending in state.State.Pending)
                {
                    await GrainFactory.GetGrain<ICertificateGrain>(pending.Key).RevokeAsync(new RevocationRequest(RevocationReason.CessationOfOperation, "confirm wait time expired"));
                }
                await FinishKeyUpdateAsync(alias: null, newCertificateConfirmed: false);
                Close("confirmation timed out");
                break;
            case TransactionPhase.Waiting:
                // RFC 9483 §4.4 leaves the wait to the server; an unbounded one would keep the request, the approval entry and
                // the end entity's open enrollment forever.
                await CloseWaitingAsync("wait time expired");
                await ReleaseEnrollmentAsync();
                break;
        }
        await PersistAsync();
        LogTimeout(logger, TransactionKey, state.State.Outcome ?? "-");
    }

    public Task<TransactionSnapshot> GetSnapshotAsync() => Task.FromResult(new TransactionSnapshot(
        state.State.Phase, state.State.CertificateKeys.ToArray(), state.State.ConfirmDeadline, state.State.Outcome));

    /// <summary>
    /// The one place a transaction closes: from here on it only answers retransmissions, and its store deletes it once
    /// the retention (<see cref="CmpOptions.RetentionFor"/>) has passed. A request replayed after that is refused by the
    /// alias's messageTime window, never processed anew. Nothing open survives it: no deadline, no pending certificate, no
    /// issuance to resume.
    /// </summary>
    private void Close(string outcome)
    {
        state.State.Phase = TransactionPhase.Closed;
        state.State.Outcome = outcome;
        state.State.ConfirmDeadline = null;
        state.State.WaitDeadline = null;
        state.State.Pending = [];
        state.State.IssuingCertificateKey = null;
        state.State.IssuingRequestHash = null;
        CmpOptions settings = options.CurrentValue;
        CmpAliasOptions? alias = settings.Aliases.GetValueOrDefault(TransactionKey[..TransactionKey.IndexOf('/')]);
        state.State.RetainUntil = time.GetUtcNow() + settings.RetentionFor(alias);
    }

    /// <summary>
    /// The persistence step: one write of the state with its deadline and expiry. A closed transaction then leaves memory
    /// at once (a retransmission reads it back from the store); an open one stays for its follow-up.
    /// </summary>
    private async Task PersistAsync()
    {
        await state.WriteStateAsync();
        if (sweeper.TryClaim())
        {
            await ScheduleSweeperAsync();
        }
        if (state.State.Phase == TransactionPhase.Closed)
        {
            DeactivateOnIdle();
        }
    }

    /// <summary>The first transaction on this silo makes sure the deadline sweeper runs; a failure leaves it to the next one.</summary>
    private async Task ScheduleSweeperAsync()
    {
        try
        {
            await GrainFactory.GetGrain<IDeadlineSweeperGrain>(IDeadlineSweeperGrain.DeadlineSweeperKey).EnsureScheduledAsync();
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            sweeper.Release();
            LogSweeperNotScheduled(logger, e);
        }
    }

    /// <summary>The transactionID from this grain's key (alias/HEX), for answers to requests that could not be decoded.</summary>
    private byte[] KeyTransactionId() => Convert.FromHexString(TransactionKey[(TransactionKey.LastIndexOf('/') + 1)..]);

    [LoggerMessage(EventId = 201, Level = LogLevel.Error, Message = "cmp alias={Alias} transaction={Transaction} failed internally diagnostic={DiagnosticId}")]
    private static partial void LogFailure(ILogger logger, Exception exception, string alias, string transaction, string diagnosticId);

    [LoggerMessage(EventId = 200, Level = LogLevel.Information,
        Message = "cmp alias={Alias} transaction={Transaction} body={Body} outcome={Outcome} detail={Detail} diagnostic={DiagnosticId} ms={ElapsedMs:F2}")]
    private static partial void LogRequest(ILogger logger, string alias, string transaction, string body, string outcome, string detail, string diagnosticId, double elapsedMs);

    [LoggerMessage(EventId = 205, Level = LogLevel.Warning, Message = "the deadline sweeper's reminder could not be registered; the next transaction tries again")]
    private static partial void LogSweeperNotScheduled(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 203, Level = LogLevel.Warning, Message = "cmp transaction={Transaction}: an authentication failure could not be written to the audit trail")]
    private static partial void LogAuditUnavailable(ILogger logger, string transaction);

    [LoggerMessage(EventId = 202, Level = LogLevel.Information, Message = "cmp transaction={Transaction} deadline passed: {Outcome}")]
    private static partial void LogTimeout(ILogger logger, string transaction, string outcome);
}
