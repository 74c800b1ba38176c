using System.Globalization;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Orleans.Runtime;
using Orleans.Serialization.Serializers;
using CmpCluster.Grains.Storage;
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
/// A row's first version is random (63 bits), not 1, so a row may really be deleted (ClearStateAsync, or
/// expiry through <see cref="IStateLifetimeIndex.PruneExpiredAsync"/>): an old activation still holding an ETag from
/// before the delete cannot match the version a new row starts at (no ABA), and no tombstone is left behind.
///
/// State that implements <see cref="IStateLifetime"/> has its due time and expiry written in the same statement as the
/// payload (columns <c>due_at</c>, <c>expires_at</c>, Unix milliseconds), so the deadline index can never disagree
/// with the state it indexes.
/// </remarks>
public sealed class SqliteGrainStorage : IGrainStorage, IStateLifetimeIndex, IDisposable
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

    // Added to databases created by earlier versions (SQLite has no ADD COLUMN IF NOT EXISTS); then the partial indexes
    // that make "what is due" and "what expired" cheap however many rows carry neither.
    private const string LifetimeColumns = """
        CREATE INDEX IF NOT EXISTS grain_state_due ON grain_state (provider, due_at) WHERE due_at IS NOT NULL;
        CREATE INDEX IF NOT EXISTS grain_state_expiry ON grain_state (provider, expires_at) WHERE expires_at IS NOT NULL;
        """;

    private const string KeyFilter = "provider = $provider AND state_name = $state AND grain_id = $grain";

    private const string SelectSql =
        "SELECT version, payload FROM grain_state WHERE " + KeyFilter + ";";

    // Insert for a grain that believes no record exists (ETag null); a live row makes it conflict (nothing returned).
    private const string InsertSql = """
        INSERT INTO grain_state (provider, state_name, grain_id, version, payload, due_at, expires_at)
        VALUES ($provider, $state, $grain, $first, $payload, $due, $expires)
        ON CONFLICT (provider, state_name, grain_id) DO NOTHING
        RETURNING version;
        """;

    private const string UpdateSql =
        "UPDATE grain_state SET version = version + 1, payload = $payload, due_at = $due, expires_at = $expires WHERE " + KeyFilter +
        " AND version = $version RETURNING version;";

    private const string DeleteSql =
        "DELETE FROM grain_state WHERE " + KeyFilter + " AND version = $version;";

    private const string DueSql =
        "SELECT grain_id FROM grain_state WHERE provider = $provider AND due_at IS NOT NULL AND due_at <= $now ORDER BY due_at LIMIT $max;";

    private const string PruneSql = """
        DELETE FROM grain_state WHERE rowid IN (
            SELECT rowid FROM grain_state WHERE provider = $provider AND expires_at IS NOT NULL AND expires_at <= $now LIMIT $max);
        """;

    private readonly string _name;
    private readonly string _table;
    private readonly string _selectSql, _insertSql, _updateSql, _deleteSql, _dueSql, _pruneSql;
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
        _table = options.TableName;
        if (!System.Text.RegularExpressions.Regex.IsMatch(_table, "^[A-Za-z_][A-Za-z0-9_]*$"))
        {
            throw new ArgumentException($"SQLite grain storage '{name}': table name '{_table}' is not a plain identifier", nameof(options));
        }
        (_selectSql, _insertSql, _updateSql, _deleteSql, _dueSql, _pruneSql) =
            (ForTable(SelectSql), ForTable(InsertSql), ForTable(UpdateSql), ForTable(DeleteSql), ForTable(DueSql), ForTable(PruneSql));
        _serializer = serializer;
        _activators = activators;
        _logger = logger ?? NullLogger<SqliteGrainStorage>.Instance;
        _database = SqliteDatabase.Acquire(options);
        try
        {
            _database.RunExclusive(() =>
            {
                _database.ExecuteNonQuery(ForTable(Schema));
                AddLifetimeColumns(_database, _table);
                MoveFromDefaultTable();
            });
        }
        catch
        {
            _database.Release();
            throw;
        }

        _logger.LogInformation("SQLite grain storage '{Name}' using table {Table} of {Path}", name, _table, _database.Path);
    }

    /// <summary>A statement of this class, for this provider's table (the templates name <c>grain_state</c>).</summary>
    private string ForTable(string sql) => sql.Replace(SqliteStoreOptions.DefaultTableName, _table, StringComparison.Ordinal);

    /// <summary>
    /// A provider given a table of its own takes its rows along from the default table, where an earlier version kept
    /// them, in one SQLite transaction: nothing is lost or left twice, and the move happens once.
    /// </summary>
    private void MoveFromDefaultTable()
    {
        const string source = SqliteStoreOptions.DefaultTableName;
        if (_table == source || !TableExists(_database, source))
        {
            return;
        }
        AddLifetimeColumns(_database, source);
        _database.ExecuteNonQuery("BEGIN IMMEDIATE;");
        try
        {
            SqliteCommand move = _database.Command(
                $"INSERT INTO {_table} (provider, state_name, grain_id, version, payload, due_at, expires_at) " +
                $"SELECT provider, state_name, grain_id, version, payload, due_at, expires_at FROM {source} " +
                "WHERE provider = $provider AND payload IS NOT NULL;", "$provider");
            move.Parameters[0].Value = _name;
            int moved = move.ExecuteNonQuery();
            SqliteCommand delete = _database.Command($"DELETE FROM {source} WHERE provider = $provider;", "$provider");
            delete.Parameters[0].Value = _name;
            delete.ExecuteNonQuery();
            _database.ExecuteNonQuery("COMMIT;");
            if (moved > 0)
            {
                _logger.LogInformation("SQLite grain storage '{Name}': moved {Rows} row(s) from {Source} to {Table}", _name, moved, source, _table);
            }
        }
        catch
        {
            _database.ExecuteNonQuery("ROLLBACK;");
            throw;
        }
    }

    private static bool TableExists(SqliteDatabase database, string table)
    {
        SqliteCommand command = database.Command("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = $name;", "$name");
        command.Parameters[0].Value = table;
        return (long)command.ExecuteScalar()! > 0;
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
            var command = Bind(db.Command(_selectSql, "$provider", "$state", "$grain"), stateName, grainKey);
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
        // BinaryData.ToArray() would copy the serialized bytes once more; the array underneath is used as it is.
        ReadOnlyMemory<byte> serialized = _serializer.Serialize(grainState.State).ToMemory();
        var payload = System.Runtime.InteropServices.MemoryMarshal.TryGetArray(serialized, out ArraySegment<byte> segment)
            && segment.Offset == 0 && segment.Count == segment.Array!.Length ? segment.Array : serialized.ToArray();

        (object due, object expires) = Lifetime(grainState.State);

        // Committed (with its due time and expiry, and with the writes queued alongside it) before this task completes.
        var newVersion = await _database.WriteAsync(db =>
        {
            SqliteCommand command;
            if (expected is null)
            {
                command = Bind(db.Command(_insertSql, "$provider", "$state", "$grain", "$payload", "$due", "$expires", "$first"), stateName, grainKey);
                command.Parameters[6].Value = Random.Shared.NextInt64(1, long.MaxValue / 2);
            }
            else if (TryParseETag(expected, out var version))
            {
                command = Bind(db.Command(_updateSql, "$provider", "$state", "$grain", "$payload", "$due", "$expires", "$version"), stateName, grainKey);
                command.Parameters[6].Value = version;
            }
            else
            {
                return (long?)null; // Not an ETag we ever issued: cannot match anything.
            }

            command.Parameters[3].Value = payload;
            command.Parameters[4].Value = due;
            command.Parameters[5].Value = expires;
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

        var cleared = await _database.WriteAsync(db =>
        {
            if (expected is null)
            {
                // The grain believes there is nothing to clear; that is only true if no row exists.
                // Nothing to write either way.
                var select = Bind(db.Command(_selectSql, "$provider", "$state", "$grain"), stateName, grainKey);
                using var reader = select.ExecuteReader();
                return !reader.Read() || reader.IsDBNull(1);
            }

            if (!TryParseETag(expected, out var version))
            {
                return false;
            }

            var command = Bind(db.Command(_deleteSql, "$provider", "$state", "$grain", "$version"), stateName, grainKey);
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

    /// <inheritdoc />
    public Task<IReadOnlyList<GrainId>> DueAsync(DateTimeOffset now, int max, CancellationToken cancellationToken = default) =>
        _database.RunAsync<IReadOnlyList<GrainId>>(db =>
        {
            var command = db.Command(_dueSql, "$provider", "$now", "$max");
            command.Parameters[0].Value = _name;
            command.Parameters[1].Value = now.ToUnixTimeMilliseconds();
            command.Parameters[2].Value = max;
            using var reader = command.ExecuteReader();
            var due = new List<GrainId>();
            while (reader.Read())
            {
                due.Add(GrainId.Parse(reader.GetString(0)));
            }
            return due;
        }, cancellationToken);

    /// <inheritdoc />
    public Task<int> PruneExpiredAsync(DateTimeOffset now, int max, CancellationToken cancellationToken = default) =>
        _database.RunAsync(db =>
        {
            var command = db.Command(_pruneSql, "$provider", "$now", "$max");
            command.Parameters[0].Value = _name;
            command.Parameters[1].Value = now.ToUnixTimeMilliseconds();
            command.Parameters[2].Value = max;
            return command.ExecuteNonQuery();
        }, cancellationToken);

    /// <summary>The due time and expiry columns of a state (DBNull when it has none, or is not <see cref="IStateLifetime"/>).</summary>
    private static (object Due, object Expires) Lifetime<T>(T state) => state is IStateLifetime lifetime
        ? (lifetime.DueAt?.ToUnixTimeMilliseconds() ?? (object)DBNull.Value, lifetime.ExpiresAt?.ToUnixTimeMilliseconds() ?? (object)DBNull.Value)
        : (DBNull.Value, DBNull.Value);

    private static void AddLifetimeColumns(SqliteDatabase database, string table)
    {
        var columns = new HashSet<string>(StringComparer.Ordinal);
        using (var reader = database.Command($"PRAGMA table_info({table});").ExecuteReader())
        {
            while (reader.Read())
            {
                columns.Add(reader.GetString(1));
            }
        }
        if (!columns.Contains("due_at"))
        {
            // A database of an earlier version: it gets the columns once, and loses the tombstones (payload NULL) that
            // version left behind for ABA protection; rows now start at a random version instead.
            database.ExecuteNonQuery($"ALTER TABLE {table} ADD COLUMN due_at INTEGER;");
            database.ExecuteNonQuery($"ALTER TABLE {table} ADD COLUMN expires_at INTEGER;");
            database.ExecuteNonQuery($"DELETE FROM {table} WHERE payload IS NULL;");
        }
        database.ExecuteNonQuery(LifetimeColumns.Replace(SqliteStoreOptions.DefaultTableName, table, StringComparison.Ordinal));
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
            var command = Bind(db.Command(_selectSql, "$provider", "$state", "$grain"), stateName, grainKey);
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
