using System.Globalization;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Orleans.Runtime;
using Orleans.Serialization.Serializers;
using Orleans.Storage;

namespace CmpCluster.Silo.Storage;

/// <summary>
/// Orleans grain storage on an embedded SQLite database (single-node deployments).
/// </summary>
/// <remarks>
/// One row per (provider, state name, grain id). The ETag is the row's version number, bumped on
/// every write; a write must present the version it last saw, so two activations of the same grain
/// (or a stale one) cannot silently overwrite each other.
///
/// ClearStateAsync keeps the row as a tombstone (payload NULL, version still bumped) instead of
/// deleting it. If the row were deleted, the next insert would restart at version 1 and an old
/// activation still holding ETag "1" from before the clear would be accepted (ABA). Tombstones are
/// invisible to readers: they read as "no record, ETag null", exactly like a never-written grain.
/// </remarks>
public sealed class SqliteGrainStorage : IGrainStorage, IDisposable
{
    private const string Schema = """
        CREATE TABLE IF NOT EXISTS grain_state (
            provider   TEXT    NOT NULL,
            state_name TEXT    NOT NULL,
            grain_id   TEXT    NOT NULL,
            version    INTEGER NOT NULL,
            payload    BLOB,
            PRIMARY KEY (provider, state_name, grain_id)
        );
        """;

    private const string KeyFilter = "provider = $provider AND state_name = $state AND grain_id = $grain";

    private const string SelectSql =
        "SELECT version, payload FROM grain_state WHERE " + KeyFilter + ";";

    // Insert for a grain that believes no record exists (ETag null). A tombstone counts as
    // "no record", so it is revived with the next version; a live row makes the DO UPDATE's WHERE
    // false, nothing is returned, and the caller reports a conflict.
    private const string InsertSql = """
        INSERT INTO grain_state (provider, state_name, grain_id, version, payload)
        VALUES ($provider, $state, $grain, 1, $payload)
        ON CONFLICT (provider, state_name, grain_id) DO UPDATE
            SET version = grain_state.version + 1, payload = excluded.payload
            WHERE grain_state.payload IS NULL
        RETURNING version;
        """;

    private const string UpdateSql =
        "UPDATE grain_state SET version = version + 1, payload = $payload WHERE " + KeyFilter +
        " AND version = $version AND payload IS NOT NULL RETURNING version;";

    private const string ClearSql =
        "UPDATE grain_state SET version = version + 1, payload = NULL WHERE " + KeyFilter +
        " AND version = $version AND payload IS NOT NULL;";

    private readonly string _name;
    private readonly SqliteDatabase _database;
    private readonly IGrainStorageSerializer _serializer;
    private readonly IActivatorProvider _activators;
    private readonly ILogger _logger;
    private int _disposed;

    /// <summary>Creates the provider and opens (or joins) the database file.</summary>
    /// <param name="name">Provider name; part of the row key so several providers can share a file.</param>
    /// <param name="options">Where the database lives and how durable commits are.</param>
    /// <param name="serializer">Turns grain state into bytes and back.</param>
    /// <param name="activators">Creates the empty state handed to grains that have no record.</param>
    /// <param name="logger">Optional logger.</param>
    public SqliteGrainStorage(
        string name,
        SqliteStoreOptions options,
        IGrainStorageSerializer serializer,
        IActivatorProvider activators,
        ILogger<SqliteGrainStorage>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(serializer);
        ArgumentNullException.ThrowIfNull(activators);
        _name = name;
        _serializer = serializer;
        _activators = activators;
        _logger = logger ?? NullLogger<SqliteGrainStorage>.Instance;
        _database = SqliteDatabase.Acquire(options);
        try
        {
            _database.RunExclusive(() => _database.ExecuteNonQuery(Schema));
        }
        catch
        {
            _database.Release();
            throw;
        }

        _logger.LogInformation("SQLite grain storage '{Name}' using {Path}", name, _database.Path);
    }

    /// <summary>Factory used by the DI registration (keyed by provider name).</summary>
    internal static SqliteGrainStorage Create(IServiceProvider services, string name)
    {
        var options = services.GetRequiredService<IOptionsMonitor<SqliteStoreOptions>>().Get(name);
        var serializer = options.GrainStorageSerializer ?? services.GetRequiredService<IGrainStorageSerializer>();
        return new SqliteGrainStorage(
            name,
            options,
            serializer,
            services.GetRequiredService<IActivatorProvider>(),
            services.GetService<ILogger<SqliteGrainStorage>>());
    }

    /// <inheritdoc />
    public Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) =>
        ReadStateAsync(stateName, grainId, grainState, CancellationToken.None);

    /// <inheritdoc />
    public async Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(stateName);
        ArgumentNullException.ThrowIfNull(grainState);
        var grainKey = grainId.ToString();

        // Copy the bytes out while holding the connection; deserialize after releasing it so
        // a large state does not hold up other grains' writes.
        var (version, payload) = await _database.RunAsync(db =>
        {
            var command = Bind(db.Command(SelectSql, "$provider", "$state", "$grain"), stateName, grainKey);
            using var reader = command.ExecuteReader();
            if (!reader.Read() || reader.IsDBNull(1))
            {
                return (0L, (byte[]?)null);
            }

            return (reader.GetInt64(0), (byte[])reader.GetValue(1));
        }, cancellationToken).ConfigureAwait(false);

        if (payload is null)
        {
            grainState.State = CreateEmpty<T>();
            grainState.ETag = null;
            grainState.RecordExists = false;
            return;
        }

        var state = _serializer.Deserialize<T>(new BinaryData(payload));
        grainState.State = state is null ? CreateEmpty<T>() : state;
        grainState.ETag = FormatETag(version);
        grainState.RecordExists = true;
    }

    /// <inheritdoc />
    public Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) =>
        WriteStateAsync(stateName, grainId, grainState, CancellationToken.None);

    /// <inheritdoc />
    public async Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(stateName);
        ArgumentNullException.ThrowIfNull(grainState);
        var grainKey = grainId.ToString();
        var expected = grainState.ETag;
        var payload = _serializer.Serialize(grainState.State).ToArray();

        // Each statement auto-commits, so the row is committed before this task completes.
        var newVersion = await _database.RunAsync(db =>
        {
            SqliteCommand command;
            if (expected is null)
            {
                command = Bind(db.Command(InsertSql, "$provider", "$state", "$grain", "$payload"), stateName, grainKey);
            }
            else if (TryParseETag(expected, out var version))
            {
                command = Bind(db.Command(UpdateSql, "$provider", "$state", "$grain", "$payload", "$version"), stateName, grainKey);
                command.Parameters[4].Value = version;
            }
            else
            {
                return (long?)null; // Not an ETag we ever issued: cannot match anything.
            }

            command.Parameters[3].Value = payload;
            return command.ExecuteScalar() is long stored ? stored : (long?)null;
        }, cancellationToken).ConfigureAwait(false);

        if (newVersion is not { } committed)
        {
            throw await ConflictAsync("write", stateName, grainId, expected, cancellationToken).ConfigureAwait(false);
        }

        grainState.ETag = FormatETag(committed);
        grainState.RecordExists = true;
    }

    /// <inheritdoc />
    public Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) =>
        ClearStateAsync(stateName, grainId, grainState, CancellationToken.None);

    /// <inheritdoc />
    public async Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(stateName);
        ArgumentNullException.ThrowIfNull(grainState);
        var grainKey = grainId.ToString();
        var expected = grainState.ETag;

        var cleared = await _database.RunAsync(db =>
        {
            if (expected is null)
            {
                // The grain believes there is nothing to clear; that is only true if no live row
                // exists. Nothing to write either way.
                var select = Bind(db.Command(SelectSql, "$provider", "$state", "$grain"), stateName, grainKey);
                using var reader = select.ExecuteReader();
                return !reader.Read() || reader.IsDBNull(1);
            }

            if (!TryParseETag(expected, out var version))
            {
                return false;
            }

            var command = Bind(db.Command(ClearSql, "$provider", "$state", "$grain", "$version"), stateName, grainKey);
            command.Parameters[3].Value = version;
            return command.ExecuteNonQuery() == 1;
        }, cancellationToken).ConfigureAwait(false);

        if (!cleared)
        {
            throw await ConflictAsync("clear", stateName, grainId, expected, cancellationToken).ConfigureAwait(false);
        }

        grainState.State = CreateEmpty<T>();
        grainState.ETag = null;
        grainState.RecordExists = false;
    }

    /// <summary>Releases this provider's hold on the database file.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            _database.Release();
        }
    }

    private SqliteCommand Bind(SqliteCommand command, string stateName, string grainKey)
    {
        command.Parameters[0].Value = _name;
        command.Parameters[1].Value = stateName;
        command.Parameters[2].Value = grainKey;
        return command;
    }

    // Builds the exception for a failed conditional write, looking up what is actually stored so
    // the message (and InconsistentStateException.StoredEtag) says what the grain should have had.
    private async Task<InconsistentStateException> ConflictAsync(
        string operation, string stateName, GrainId grainId, string? expected, CancellationToken cancellationToken)
    {
        var grainKey = grainId.ToString();
        var stored = await _database.RunAsync(db =>
        {
            var command = Bind(db.Command(SelectSql, "$provider", "$state", "$grain"), stateName, grainKey);
            using var reader = command.ExecuteReader();
            return reader.Read() && !reader.IsDBNull(1) ? FormatETag(reader.GetInt64(0)) : null;
        }, cancellationToken).ConfigureAwait(false);

        _logger.LogDebug(
            "ETag conflict on {Operation} of {StateName} for {GrainId} in '{Provider}': stored {Stored}, presented {Presented}",
            operation, stateName, grainId, _name, stored ?? "<none>", expected ?? "<none>");

        return new InconsistentStateException(
            $"SQLite storage '{_name}': ETag mismatch on {operation} of state '{stateName}' for grain {grainId}.",
            stored,
            expected);
    }

    private T CreateEmpty<T>() => _activators.GetActivator<T>().Create();

    private static string FormatETag(long version) => version.ToString(CultureInfo.InvariantCulture);

    private static bool TryParseETag(string etag, out long version) =>
        long.TryParse(etag, NumberStyles.None, CultureInfo.InvariantCulture, out version);
}
